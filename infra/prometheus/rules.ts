/**
 * Recording and alerting rules as typed data. `buildRules` is a pure function of the timing
 * profile, so the committed rule files (production timing) and a fast drill profile come from
 * the same source; `scripts/gen-monitoring.ts` writes them to `rules/*.yml`.
 *
 * Recording rules are named `level:metric:operations` (Prometheus naming best practice): `job`
 * is always kept, the level lists the other labels kept, counters lose `_total` under rate().
 */
import {
  API_JOB,
  BURN_RATES,
  durationSeconds,
  errorBudget,
  LIMITS,
  POSITIVE_LABEL,
  SCORE_BANDS,
  SLO,
  TIMING,
  WINDOW_NAMES,
  type BurnWindow,
  type Timing,
  type WindowName,
} from './thresholds.ts';

export type Severity = 'page' | 'ticket';

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  /** Labels of the recorded series (not written to YAML; the tests check queries against them). */
  readonly outputLabels: readonly string[];
}

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: Severity };
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook_url: string };
}

export interface RuleGroup<R> {
  readonly name: string;
  readonly rules: readonly R[];
}

export interface RuleSet {
  readonly recording: readonly RuleGroup<RecordingRule>[];
  readonly alerts: readonly RuleGroup<AlertRule>[];
}

/** Where runbook links point. Repository-relative until the repository has a public home. */
export const RUNBOOK_URL = 'docs/runbook.md';

/** Markdown heading anchor of an alert's runbook section (GitHub style: lower case). */
export function runbookAnchor(alert: string): string {
  return alert.toLowerCase();
}

/** A number as PromQL should read it: no float noise, no exponent for the values used here. */
export function num(x: number): string {
  return String(Number(x.toPrecision(12)));
}

const JOB = `job="${API_JOB}"`;
const RE_5XX = 'http_status=~"5.."';

// Recorded series names, shared by the rules, the dashboards and the tests.
export const R = {
  requestRate: 'instance_endpoint_status_class:api_request:rate5m',
  errorRatio: 'job:api_request_5xx:ratio_rate5m',
  bucketRate: 'instance_endpoint_le:api_request_duration_seconds_bucket:rate5m',
  instanceQuantile: (q: 50 | 95 | 99) => `instance_endpoint:api_request_duration_seconds:p${q}_rate5m`,
  quantile: (q: 50 | 95 | 99) => `endpoint:api_request_duration_seconds:p${q}_rate5m`,
  p95Hour: 'endpoint:api_request_duration_seconds:p95_rate1h',
  predictionRateByVersion: 'instance_model_version:api_prediction:rate5m',
  predictionRate: 'job:api_prediction:rate5m',
  availabilityErrors: (w: WindowName) => `job:slo_availability_errors_per_request:ratio_rate${w}`,
  latencyErrors: (w: WindowName) => `job:slo_latency_errors_per_request:ratio_rate${w}`,
  positiveRatio: 'instance_model_version:api_prediction_positive:ratio_rate5m',
  scoreBottomShare: 'instance_model_version:api_prediction_score_bottom:ratio_rate5m',
  scoreTopShare: 'instance_model_version:api_prediction_score_top:ratio_rate5m',
} as const;

/** Group names, shared with the rule unit tests' `group_eval_order`. */
export const MODEL_QUALITY_GROUPS = { recording: 'model-quality.recording', alerts: 'model-quality.alerts' } as const;

function recordingGroups(t: Timing): RuleGroup<RecordingRule>[] {
  const w5 = t.windows['5m'];
  const quantiles = ([50, 95, 99] as const).flatMap((q): RecordingRule[] => [
    {
      record: R.instanceQuantile(q),
      expr: `histogram_quantile(${num(q / 100)}, ${R.bucketRate})`,
      outputLabels: ['job', 'instance', 'endpoint'],
    },
    {
      record: R.quantile(q),
      expr: `histogram_quantile(${num(q / 100)}, sum by (job, endpoint, le) (${R.bucketRate}))`,
      outputLabels: ['job', 'endpoint'],
    },
  ]);
  const api: RecordingRule[] = [
    {
      record: R.requestRate,
      // status_class ("2xx", "5xx") keeps the series count flat whatever codes appear.
      expr: `sum by (job, instance, endpoint, status_class) (
  label_replace(rate(api_request_total{${JOB}}[${w5}]), "status_class", "\${1}xx", "http_status", "([1-5]).."))`,
      outputLabels: ['job', 'instance', 'endpoint', 'status_class'],
    },
    {
      record: R.errorRatio,
      // `or ... * 0`: before the first 5xx there is no 5xx series, and the ratio must read 0, not be absent.
      expr: `(
    sum by (job) (${R.requestRate}{status_class="5xx"})
  or
    sum by (job) (${R.requestRate}) * 0
)
/
  sum by (job) (${R.requestRate})`,
      outputLabels: ['job'],
    },
    {
      record: R.bucketRate,
      expr: `sum by (job, instance, endpoint, le) (rate(api_request_duration_seconds_bucket{${JOB}}[${w5}]))`,
      outputLabels: ['job', 'instance', 'endpoint', 'le'],
    },
    ...quantiles,
    {
      record: R.p95Hour,
      expr: `histogram_quantile(0.95, sum by (job, endpoint, le) (rate(api_request_duration_seconds_bucket{${JOB}}[${t.windows['1h']}])))`,
      outputLabels: ['job', 'endpoint'],
    },
    {
      record: R.predictionRateByVersion,
      expr: `sum by (job, instance, model_version) (rate(api_prediction_total{${JOB}}[${w5}]))`,
      outputLabels: ['job', 'instance', 'model_version'],
    },
    {
      record: R.predictionRate,
      expr: `sum by (job) (${R.predictionRateByVersion})`,
      outputLabels: ['job'],
    },
  ];

  const sliEndpoints = `endpoint=~"${SLO.availability.endpoints.join('|')}"`;
  const latencySel = `${JOB}, endpoint="${SLO.latency.endpoint}"`;
  const slo: RecordingRule[] = WINDOW_NAMES.flatMap((name): RecordingRule[] => {
    const w = t.windows[name];
    return [
      {
        record: R.availabilityErrors(name),
        expr: `(
    sum by (job) (rate(api_request_total{${JOB}, ${sliEndpoints}, ${RE_5XX}}[${w}]))
  or
    sum by (job) (rate(api_request_total{${JOB}, ${sliEndpoints}}[${w}])) * 0
)
/
  sum by (job) (rate(api_request_total{${JOB}, ${sliEndpoints}}[${w}]))`,
        outputLabels: ['job'],
      },
      {
        record: R.latencyErrors(name),
        // Slow = all requests minus those within the objective's bucket (le="0.2").
        expr: `(
    sum by (job) (rate(api_request_duration_seconds_count{${latencySel}}[${w}]))
  -
    sum by (job) (rate(api_request_duration_seconds_bucket{${latencySel}, le="${num(SLO.latency.thresholdSeconds)}"}[${w}]))
)
/
  sum by (job) (rate(api_request_duration_seconds_count{${latencySel}}[${w}]))`,
        outputLabels: ['job'],
      },
    ];
  });

  const byVersion = 'job, instance, model_version';
  const scoreCount = `sum by (${byVersion}) (rate(api_prediction_score_count{${JOB}}[${w5}]))`;
  const scoreBelow = (le: number) => `sum by (${byVersion}) (rate(api_prediction_score_bucket{${JOB}, le="${num(le)}"}[${w5}]))`;
  const quality: RecordingRule[] = [
    {
      record: R.positiveRatio,
      // Both label series grow at every prediction (possibly by 0): the denominator is never missing.
      expr: `sum by (${byVersion}) (rate(api_prediction_total{${JOB}, label="${POSITIVE_LABEL}"}[${w5}]))
/
  sum by (${byVersion}) (rate(api_prediction_total{${JOB}}[${w5}]))`,
      outputLabels: ['job', 'instance', 'model_version'],
    },
    {
      record: R.scoreBottomShare,
      expr: `${scoreBelow(SCORE_BANDS.bottom)}
/
  ${scoreCount}`,
      outputLabels: ['job', 'instance', 'model_version'],
    },
    {
      record: R.scoreTopShare,
      // count - bucket rather than 1 - ratio: exact when every score is above the band.
      expr: `(
    ${scoreCount}
  -
    ${scoreBelow(SCORE_BANDS.top)}
)
/
  ${scoreCount}`,
      outputLabels: ['job', 'instance', 'model_version'],
    },
  ];

  return [
    { name: 'inference-api.recording', rules: api },
    { name: 'inference-api.slo', rules: slo },
    { name: MODEL_QUALITY_GROUPS.recording, rules: quality },
  ];
}

function annotations(alert: string, summary: string, description: string): AlertRule['annotations'] {
  return { summary, description, runbook_url: `${RUNBOOK_URL}#${runbookAnchor(alert)}` };
}

/** `(long > f and short > f) or (...)`, in burn-rate units so the alert's value is the burn rate. */
function burnExpr(series: (w: WindowName) => string, budget: number, windows: readonly BurnWindow[]): string {
  return windows
    .map(
      (b) => `(
    ${series(b.long)}{${JOB}} / ${num(budget)} > ${num(b.factor)}
  and
    ${series(b.short)}{${JOB}} / ${num(budget)} > ${num(b.factor)}
)`,
    )
    .join('\nor\n');
}

function describeBurn(windows: readonly BurnWindow[]): string {
  return windows.map((b) => `${num(b.factor)}x over ${b.long} and ${b.short}`).join(', or ');
}

function alertGroups(t: Timing): RuleGroup<AlertRule>[] {
  const f = t.for;
  const availBudget = errorBudget(SLO.availability.objective);
  const latBudget = errorBudget(SLO.latency.objective);
  const latencyMs = `${num(LIMITS.latencyP99Seconds * 1000)}ms`;
  const objectivePct = (o: number) => `${num(o * 100)}%`;

  const api: AlertRule[] = [
    {
      alert: 'InferenceApiDown',
      expr: `up{${JOB}} == 0`,
      for: f.apiDown,
      labels: { severity: 'page' },
      annotations: annotations(
        'InferenceApiDown',
        'Inference API target {{ $labels.instance }} is down.',
        `Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) for more than ${f.apiDown}: up = {{ $value }}.`,
      ),
    },
    {
      alert: 'InferenceApiAbsent',
      expr: `absent(up{${JOB}})`,
      for: f.apiAbsent,
      labels: { severity: 'page' },
      annotations: annotations(
        'InferenceApiAbsent',
        'No inference API target is known to Prometheus.',
        `Job ${API_JOB} has had no scrape target for more than ${f.apiAbsent} (absent(up) = {{ $value }}): the target vanished from the configuration or from service discovery.`,
      ),
    },
    {
      alert: 'InferenceApiHighErrorRatio',
      expr: `${R.errorRatio}{${JOB}} > ${num(LIMITS.errorRatio)}`,
      for: f.errorRatio,
      labels: { severity: 'page' },
      annotations: annotations(
        'InferenceApiHighErrorRatio',
        'Inference API {{ $labels.job }} answers too many requests with a 5xx.',
        `{{ $value | humanizePercentage }} of the requests to {{ $labels.job }} failed with a 5xx over the last ${t.windows['5m']} (threshold ${num(LIMITS.errorRatio * 100)}%).`,
      ),
    },
    {
      alert: 'InferenceApiLatencyP99High',
      expr: `${R.quantile(99)}{${JOB}, endpoint="${SLO.latency.endpoint}"} > ${num(LIMITS.latencyP99Seconds)}`,
      for: f.latencyP99,
      labels: { severity: 'ticket' },
      annotations: annotations(
        'InferenceApiLatencyP99High',
        'Inference API {{ $labels.endpoint }} p99 latency is above its objective.',
        `The p99 latency of {{ $labels.endpoint }} on {{ $labels.job }} is {{ $value | humanizeDuration }} over the last ${t.windows['5m']}, above the ${latencyMs} objective.`,
      ),
    },
    {
      alert: 'InferenceApiLatencyCreep',
      // Value: today's p95 as a multiple of the same hour yesterday; the floor ignores sub-ms jitter.
      expr: `(
    ${R.p95Hour}{${JOB}, endpoint="${SLO.latency.endpoint}"}
  /
    ${R.p95Hour}{${JOB}, endpoint="${SLO.latency.endpoint}"} offset ${t.creepBaselineOffset}
) > ${num(LIMITS.latencyCreepFactor)}
and
  ${R.p95Hour}{${JOB}, endpoint="${SLO.latency.endpoint}"} > ${num(LIMITS.latencyCreepMinSeconds)}`,
      for: f.latencyCreep,
      labels: { severity: 'ticket' },
      annotations: annotations(
        'InferenceApiLatencyCreep',
        'Inference API {{ $labels.endpoint }} is getting slower than yesterday.',
        `The p95 latency of {{ $labels.endpoint }} on {{ $labels.job }} over the last ${t.windows['1h']} is {{ $value | printf "%.2f" }} times its level at the same time ${t.creepBaselineOffset} ago (threshold ${num(LIMITS.latencyCreepFactor)}x, above ${num(LIMITS.latencyCreepMinSeconds * 1000)}ms).`,
      ),
    },
    {
      alert: 'InferenceApiPredictionsStalled',
      // `unless ... > 0` rather than `== 0`: before the first prediction the counter does not exist at all.
      expr: `sum by (job) (${R.requestRate}{${JOB}, endpoint="/predict"}) > 0
unless on (job)
  ${R.predictionRate}{${JOB}} > 0`,
      for: f.predictionsStalled,
      labels: { severity: 'page' },
      annotations: annotations(
        'InferenceApiPredictionsStalled',
        'Inference API {{ $labels.job }} receives /predict requests but serves no predictions.',
        `{{ $value | humanize }} requests/s reach /predict on {{ $labels.job }}, yet no prediction has been served for more than ${f.predictionsStalled}.`,
      ),
    },
  ];

  // One alert per objective and speed: fast burns page, slow burns open a ticket.
  const objectives = {
    Availability: {
      errors: R.availabilityErrors,
      budget: availBudget,
      what: `availability error budget (${objectivePct(SLO.availability.objective)} of requests without a 5xx)`,
    },
    Latency: {
      errors: R.latencyErrors,
      budget: latBudget,
      what: `latency error budget (${objectivePct(SLO.latency.objective)} of ${SLO.latency.endpoint} requests within ${latencyMs})`,
    },
  } as const;
  const speeds = {
    Fast: { windows: BURN_RATES.fast, for: f.burnFast, severity: 'page', verb: 'is burning its', adverb: ' fast', action: 'pages' },
    Slow: { windows: BURN_RATES.slow, for: f.burnSlow, severity: 'ticket', verb: 'is steadily burning its', adverb: '', action: 'tickets' },
  } as const;
  const slo: AlertRule[] = (['Availability', 'Latency'] as const).flatMap((objective) =>
    (['Fast', 'Slow'] as const).map((speed): AlertRule => {
      const o = objectives[objective];
      const v = speeds[speed];
      const alert = `InferenceApi${objective}BudgetBurn${speed}`;
      return {
        alert,
        expr: burnExpr(o.errors, o.budget, v.windows),
        for: v.for,
        labels: { severity: v.severity },
        annotations: annotations(
          alert,
          `Inference API {{ $labels.job }} ${v.verb} ${objective.toLowerCase()} error budget${v.adverb}.`,
          `{{ $labels.job }} spends its ${SLO.periodDays}-day ${o.what} {{ $value | printf "%.1f" }} times faster than sustainable (${v.action} at ${describeBurn(v.windows)}).`,
        ),
      };
    }),
  );

  const prometheus: AlertRule[] = [
    {
      alert: 'PrometheusRuleEvaluationFailures',
      expr: `sum by (job, instance, rule_group) (increase(prometheus_rule_evaluation_failures_total[${t.windows['5m']}])) > 0`,
      for: f.ruleFailures,
      labels: { severity: 'ticket' },
      annotations: annotations(
        'PrometheusRuleEvaluationFailures',
        'Prometheus fails to evaluate rules of group {{ $labels.rule_group }}.',
        `Prometheus {{ $labels.instance }} failed {{ $value | humanize }} evaluations of rule group {{ $labels.rule_group }} in the last ${t.windows['5m']}; the alerts of that group may be blind.`,
      ),
    },
    {
      alert: 'PrometheusTargetsDown',
      // The API has its own page (InferenceApiDown); every other job lands here, Alertmanager included.
      expr: `count by (job) (up{job!="${API_JOB}"} == 0) / count by (job) (up{job!="${API_JOB}"}) > 0`,
      for: f.targetsDown,
      labels: { severity: 'ticket' },
      annotations: annotations(
        'PrometheusTargetsDown',
        'Prometheus cannot scrape targets of job {{ $labels.job }}.',
        `{{ $value | humanizePercentage }} of the {{ $labels.job }} targets have failed every scrape for more than ${f.targetsDown}.`,
      ),
    },
    {
      alert: 'PrometheusAlertmanagerUnreachable',
      expr: `sum by (job, instance) (rate(prometheus_notifications_errors_total[${t.windows['5m']}]))
/
  sum by (job, instance) (rate(prometheus_notifications_sent_total[${t.windows['5m']}]))
> ${num(LIMITS.notificationErrorRatio)}`,
      for: f.alertmanagerUnreachable,
      labels: { severity: 'ticket' },
      annotations: annotations(
        'PrometheusAlertmanagerUnreachable',
        'Prometheus cannot deliver alerts to Alertmanager.',
        `Prometheus {{ $labels.instance }} failed to send {{ $value | humanizePercentage }} of its alert notifications to Alertmanager over the last ${t.windows['5m']} (threshold ${num(LIMITS.notificationErrorRatio * 100)}%).`,
      ),
    },
  ];

  return [
    { name: 'inference-api.alerts', rules: api },
    { name: 'inference-api.slo-alerts', rules: slo },
    { name: MODEL_QUALITY_GROUPS.alerts, rules: modelQualityAlerts(t) },
    { name: 'prometheus.alerts', rules: prometheus },
  ];
}

/** The serving model per instance, under the label the prediction series use (`model_version`). */
const SERVING = `label_replace(model_info{${JOB}}, "model_version", "$1", "version", "(.*)")`;

function modelQualityAlerts(t: Timing): AlertRule[] {
  const f = t.for;
  const w5 = t.windows['5m'];
  const on = 'on (job, instance, model_version)';
  const baseline = `label_replace(model_baseline_positive_rate{${JOB}}, "model_version", "$1", "version", "(.*)")`;
  const factor = num(LIMITS.collapsePositiveRateFactor);
  const share = num(LIMITS.collapseBandShare);
  const minRate = num(LIMITS.collapseMinRows / durationSeconds(w5));
  const psi = num(LIMITS.psiWarning);
  const pct = (x: number) => `${num(x * 100)}%`;
  return [
    {
      alert: 'ModelPredictionsCollapsed',
      // Value: the positive rate of the serving version. Conditions, any of: nearly all scores in
      // the bottom or the top band; the positive rate below baseline/5; the negative rate below
      // (1 - baseline)/5. Only while traffic flows (enough rows in the window), and only for the
      // version serving now, so a rollback resolves at the next evaluation.
      expr: `(
    ${R.positiveRatio}{${JOB}}
  and ${on}
    (
        ${R.scoreBottomShare}{${JOB}} > ${share}
      or
        ${R.scoreTopShare}{${JOB}} > ${share}
      or
        ${R.positiveRatio}{${JOB}} < ${on} ${baseline} / ${factor}
      or
        ${R.positiveRatio}{${JOB}} > ${on} 1 - (1 - ${baseline}) / ${factor}
    )
)
and ${on}
  ${R.predictionRateByVersion}{${JOB}} >= ${minRate}
and ${on}
  ${SERVING}`,
      for: f.predictionsCollapsed,
      labels: { severity: 'page' },
      annotations: annotations(
        'ModelPredictionsCollapsed',
        'Model {{ $labels.model_version }} on {{ $labels.instance }} gives degenerate predictions.',
        `Model {{ $labels.model_version }} on {{ $labels.instance }} called {{ $value | humanizePercentage }} of its predictions ${POSITIVE_LABEL} over the last ${w5}, and its output has been degenerate for more than ${f.predictionsCollapsed}: over ${pct(LIMITS.collapseBandShare)} of the scores at or below ${num(SCORE_BANDS.bottom)} or above ${num(SCORE_BANDS.top)}, or a positive or negative rate under 1/${factor} of the training rate.`,
      ),
    },
    {
      alert: 'ModelFeatureDrift',
      expr: `model_feature_drift_psi{${JOB}} > ${psi}`,
      for: f.featureDrift,
      labels: { severity: 'ticket' },
      annotations: annotations(
        'ModelFeatureDrift',
        'Input feature {{ $labels.feature }} has drifted from its training distribution on {{ $labels.instance }}.',
        `The population stability index of feature {{ $labels.feature }} over the recent-rows window on {{ $labels.instance }} is {{ $value | printf "%.2f" }}, above ${psi}, for more than ${f.featureDrift}.`,
      ),
    },
    {
      alert: 'ModelPredictionDrift',
      expr: `model_prediction_drift_psi{${JOB}} > ${psi}`,
      for: f.predictionDrift,
      labels: { severity: 'ticket' },
      annotations: annotations(
        'ModelPredictionDrift',
        'The score distribution has drifted from training on {{ $labels.instance }}.',
        `The population stability index of the predicted score over the recent-rows window on {{ $labels.instance }} is {{ $value | printf "%.2f" }}, above ${psi}, for more than ${f.predictionDrift}.`,
      ),
    },
    {
      alert: 'ModelLoadFailed',
      // round(): increase() extrapolates to the window's edges; the count of refusals is whole.
      expr: `round(sum by (job, instance, reason) (increase(model_load_failures_total{${JOB}}[${t.windows['1h']}]))) > 0`,
      for: f.modelLoadFailed,
      labels: { severity: 'ticket' },
      annotations: annotations(
        'ModelLoadFailed',
        'A model rollout on {{ $labels.instance }} was refused ({{ $labels.reason }}).',
        `{{ $value | humanize }} model load(s) on {{ $labels.instance }} failed with reason {{ $labels.reason }} in the last ${t.windows['1h']}; the previous model keeps serving.`,
      ),
    },
  ];
}

/** Every rule, for a timing profile (production timing by default). */
export function buildRules(timing: Timing = TIMING): RuleSet {
  return { recording: recordingGroups(timing), alerts: alertGroups(timing) };
}

/** The rule files as Prometheus reads them: file name → YAML object. */
export function ruleFiles(rules: RuleSet): Record<'recording.yml' | 'alerts.yml', { groups: unknown[] }> {
  return {
    'recording.yml': {
      groups: rules.recording.map((g) => ({ name: g.name, rules: g.rules.map((r) => ({ record: r.record, expr: r.expr })) })),
    },
    'alerts.yml': {
      groups: rules.alerts.map((g) => ({
        name: g.name,
        rules: g.rules.map((r) => ({ alert: r.alert, expr: r.expr, for: r.for, labels: r.labels, annotations: r.annotations })),
      })),
    },
  };
}
