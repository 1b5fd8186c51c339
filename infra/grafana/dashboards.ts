/**
 * The dashboards, as code. `scripts/gen-monitoring.ts` writes them to `dashboards/*.json`, which
 * Grafana provisions; a test checks the committed JSON equals what this file generates.
 * Thresholds drawn on panels come from the same place as the alerts (`prometheus/thresholds.ts`).
 */
import { BURN_RATES, errorBudget, LIMITS, POSITIVE_LABEL, SCORE_BANDS, SLO, WINDOW_NAMES } from '../prometheus/thresholds.ts';
import { num, R } from '../prometheus/rules.ts';
import {
  dashboard,
  datasourceVariable,
  heatmap,
  queryVariable,
  row,
  stat,
  stateTimeline,
  timeseries,
  type PanelSpec,
  type Threshold,
} from './kit.ts';

export const HEALTH_UID = 'inference-service-health';
export const SLO_UID = 'inference-service-slo';
export const QUALITY_UID = 'inference-model-quality';
const TAGS = ['inference-api', 'mlops'];

const S = 'job=~"$job", instance=~"$instance"';
const SE = `${S}, endpoint=~"$endpoint"`;

const jobVariable = queryVariable({
  name: 'job',
  label: 'Job',
  // target_info is emitted by the exporter from the first scrape, before any request is served.
  selector: 'target_info',
  labelName: 'job',
  current: { text: 'inference-api', value: 'inference-api' },
});

const links = [{ type: 'dashboards', title: 'Inference dashboards', tags: ['inference-api'], asDropdown: false, includeVars: true, keepTime: true, icon: 'external link', targetBlank: false, tooltip: '', url: '' }];

const latencyLine: Threshold[] = [
  { color: 'green', value: null },
  { color: 'red', value: LIMITS.latencyP99Seconds },
];


/** An annotation at each model rollout, shared by the dashboards that show the model. */
const VERSION_CHANGE_ANNOTATION = {
  name: 'Model version change',
  // A version is "new" while it has not existed 5 minutes earlier: one short region per rollout.
  expr: 'max by (version) (model_info{job=~"$job"}) unless max by (version) (model_info{job=~"$job"} offset 5m)',
  titleFormat: 'Model {{version}}',
  textFormat: 'Model version {{version}} started serving',
  tagKeys: 'version',
  iconColor: 'purple',
};

/** Which version each instance served, shown beside the version-change annotations. */
function modelVersionTimeline(): PanelSpec {
  return stateTimeline({
    title: 'Model version serving',
    description: 'Which model version each instance served; the purple annotations mark each change.',
    queries: [{ expr: `max by (instance, version) (model_info{${S}})`, legend: '{{version}} ({{instance}})' }],
    w: 24,
    h: 5,
  });
}

export function healthDashboard(): Record<string, unknown> {
  const quantile = (q: number, by: string) => `histogram_quantile(${num(q)}, sum by (${by}) (${R.bucketRate}{${SE}}))`;
  return dashboard({
    uid: HEALTH_UID,
    title: 'Inference Service Health',
    description: 'RED metrics, predictions, model version, Node.js runtime and scrape health of the inference API.',
    tags: TAGS,
    links,
    variables: [
      datasourceVariable(),
      jobVariable,
      queryVariable({ name: 'instance', label: 'Instance', selector: 'target_info{job=~"$job"}', labelName: 'instance', includeAll: true }),
      queryVariable({ name: 'endpoint', label: 'Endpoint', selector: `api_request_total{${S}}`, labelName: 'endpoint', includeAll: true }),
    ],
    annotations: [VERSION_CHANGE_ANNOTATION],
    panels: [
      row('Overview'),
      stat({
        title: 'Up',
        queries: [{ expr: `min(up{${S}})` }],
        mappings: [{ type: 'value', options: { '0': { text: 'DOWN', color: 'red', index: 0 }, '1': { text: 'UP', color: 'green', index: 1 } } }],
        thresholds: [{ color: 'red', value: null }, { color: 'green', value: 1 }],
        colorMode: 'background',
      }),
      stat({ title: 'Requests/s', queries: [{ expr: `sum(${R.requestRate}{${SE}})` }], unit: 'reqps', decimals: 2 }),
      stat({
        title: 'Error ratio (5xx)',
        queries: [{ expr: `(sum(${R.requestRate}{${SE}, status_class="5xx"}) or vector(0)) / sum(${R.requestRate}{${SE}})` }],
        unit: 'percentunit',
        decimals: 2,
        thresholds: [
          { color: 'green', value: null },
          { color: 'orange', value: errorBudget(SLO.availability.objective) },
          { color: 'red', value: LIMITS.errorRatio },
        ],
      }),
      stat({ title: 'p99 latency', queries: [{ expr: quantile(0.99, 'le') }], unit: 's', thresholds: latencyLine }),
      stat({
        title: 'Model version',
        queries: [{ expr: `max by (version, name) (model_info{${S}})`, legend: '{{version}}' }],
        textMode: 'name',
        colorMode: 'none',
        w: 8,
      }),

      row('RED: rate, errors, duration'),
      timeseries({
        title: 'Requests/s by endpoint and status class',
        queries: [{ expr: `sum by (endpoint, status_class) (${R.requestRate}{${SE}})`, legend: '{{endpoint}} {{status_class}}' }],
        unit: 'reqps',
        stack: true,
      }),
      timeseries({
        title: '5xx error ratio by endpoint',
        queries: [
          {
            expr: `(sum by (endpoint) (${R.requestRate}{${SE}, status_class="5xx"}) or sum by (endpoint) (${R.requestRate}{${SE}}) * 0) / sum by (endpoint) (${R.requestRate}{${SE}})`,
            legend: '{{endpoint}}',
          },
        ],
        unit: 'percentunit',
        min: 0,
        thresholds: [{ color: 'green', value: null }, { color: 'red', value: LIMITS.errorRatio }],
        thresholdsStyle: 'dashed',
      }),
      timeseries({
        title: 'Latency p50 / p95 / p99 (objective: 200 ms)',
        description: 'Interpolated from histogram buckets (dense around the 200 ms objective). The red line is the objective.',
        queries: [0.5, 0.95, 0.99].map((q) => ({ expr: quantile(q, 'endpoint, le'), legend: `p${num(q * 100)} {{endpoint}}` })),
        unit: 's',
        min: 0,
        thresholds: latencyLine,
        thresholdsStyle: 'line',
      }),
      heatmap({
        title: 'Latency distribution',
        queries: [{ expr: `sum by (le) (increase(api_request_duration_seconds_bucket{${SE}}[$__rate_interval]))` }],
      }),

      row('Business'),
      timeseries({
        title: 'Predictions/s by model version',
        description: 'Rows predicted per second (a batch of N rows counts N).',
        queries: [{ expr: `sum by (model_version) (${R.predictionRateByVersion}{${S}})`, legend: '{{model_version}}' }],
        unit: 'short',
        w: 16,
      }),
      stat({
        title: 'Predictions today',
        description: 'Since midnight (browser time zone); restarts are handled by increase().',
        queries: [{ expr: `sum(increase(api_prediction_total{${S}}[$__range]))` }],
        decimals: 0,
        timeFrom: 'now/d',
        w: 8,
        h: 8,
      }),

      row('Model'),
      modelVersionTimeline(),

      row('Runtime'),
      timeseries({
        title: 'CPU (1 = one core busy)',
        queries: [{ expr: `sum by (instance, cpu_mode) (rate(process_cpu_time_total{${S}}[$__rate_interval]))`, legend: '{{cpu_mode}} {{instance}}' }],
        unit: 'percentunit',
        stack: true,
      }),
      timeseries({
        title: 'Memory',
        queries: [
          { expr: `sum by (instance) (process_memory_usage{${S}})`, legend: 'RSS {{instance}}' },
          { expr: `sum by (instance) (v8js_memory_heap_used{${S}})`, legend: 'V8 heap used {{instance}}' },
        ],
        unit: 'bytes',
        min: 0,
      }),
      timeseries({
        title: 'Event-loop delay',
        queries: (['p50', 'p99', 'max'] as const).map((p) => ({ expr: `max by (instance) (nodejs_eventloop_delay_${p}{${S}})`, legend: `${p} {{instance}}` })),
        unit: 's',
        min: 0,
      }),
      timeseries({
        title: 'Garbage collection (share of time)',
        queries: [{ expr: `sum by (instance, v8js_gc_type) (rate(v8js_gc_duration_sum{${S}}[$__rate_interval]))`, legend: '{{v8js_gc_type}} {{instance}}' }],
        unit: 'percentunit',
        min: 0,
        stack: true,
      }),

      row('Prometheus'),
      timeseries({
        title: 'Scrape duration',
        queries: [{ expr: `scrape_duration_seconds{${S}}`, legend: '{{instance}}' }],
        unit: 's',
        min: 0,
      }),
      timeseries({
        title: 'Samples scraped',
        queries: [{ expr: `scrape_samples_scraped{${S}}`, legend: '{{instance}}' }],
        unit: 'short',
        min: 0,
      }),
    ],
  });
}

/** Burn-rate thresholds as colour steps: the factors that page and ticket. */
const burnSteps: Threshold[] = [
  { color: 'green', value: null },
  ...[...BURN_RATES.slow, ...BURN_RATES.fast]
    .map((b) => b.factor)
    .sort((a, b) => a - b)
    .map((factor, i, all) => ({ color: i === all.length - 1 ? 'red' : i === 0 ? 'yellow' : 'orange', value: factor })),
];

function sloRow(o: {
  title: string;
  objective: number;
  goodRatioOverRange: string;
  errorSeries: (w: (typeof WINDOW_NAMES)[number]) => string;
}) {
  const budget = errorBudget(o.objective);
  return [
    row(o.title),
    stat({
      title: 'SLI over the range',
      queries: [{ expr: o.goodRatioOverRange }],
      unit: 'percentunit',
      decimals: 3,
      thresholds: [{ color: 'red', value: null }, { color: 'green', value: o.objective }],
      w: 6,
      h: 6,
    }),
    stat({
      title: 'Error budget remaining over the range',
      description: `1 - (bad share / ${num(budget)}): 100% = no errors, 0% = the budget is spent at exactly the allowed pace, negative = overspent.`,
      queries: [{ expr: `1 - (1 - ${o.goodRatioOverRange}) / ${num(budget)}` }],
      unit: 'percentunit',
      decimals: 1,
      thresholds: [{ color: 'red', value: null }, { color: 'orange', value: 0 }, { color: 'green', value: 0.25 }],
      w: 6,
      h: 6,
    }),
    timeseries({
      title: 'Burn rate by window',
      description: `1 = spending the budget exactly over ${SLO.periodDays} days. Alerts: ${[...BURN_RATES.fast, ...BURN_RATES.slow].map((b) => `${num(b.factor)}x over ${b.long} and ${b.short}`).join('; ')}.`,
      queries: WINDOW_NAMES.map((w) => ({ expr: `${o.errorSeries(w)}{job=~"$job"} / ${num(budget)}`, legend: w })),
      unit: 'none',
      min: 0,
      thresholds: burnSteps,
      thresholdsStyle: 'dashed',
      w: 12,
      h: 6,
    }),
  ];
}

export function sloDashboard(): Record<string, unknown> {
  const J = 'job=~"$job"';
  const avail = `endpoint=~"${SLO.availability.endpoints.join('|')}"`;
  const lat = `endpoint="${SLO.latency.endpoint}"`;
  return dashboard({
    uid: SLO_UID,
    title: 'Inference Service SLOs',
    description: `Availability and latency SLOs of the inference API: SLI, error budget and burn rates. Budgets are sized for ${SLO.periodDays} days; Prometheus keeps 15 days, so "over the range" panels show the budget pro rata for the selected range.`,
    tags: TAGS,
    links,
    time: { from: 'now-7d', to: 'now' },
    variables: [datasourceVariable(), jobVariable],
    panels: [
      ...sloRow({
        title: `Availability: ${num(SLO.availability.objective * 100)}% of ${SLO.availability.endpoints.join(' and ')} requests without a 5xx`,
        objective: SLO.availability.objective,
        goodRatioOverRange: `(1 - ((sum(increase(api_request_total{${J}, ${avail}, http_status=~"5.."}[$__range])) or vector(0)) / sum(increase(api_request_total{${J}, ${avail}}[$__range]))))`,
        errorSeries: R.availabilityErrors,
      }),
      ...sloRow({
        title: `Latency: ${num(SLO.latency.objective * 100)}% of ${SLO.latency.endpoint} requests within ${num(SLO.latency.thresholdSeconds * 1000)} ms`,
        objective: SLO.latency.objective,
        goodRatioOverRange: `(sum(increase(api_request_duration_seconds_bucket{${J}, ${lat}, le="${num(SLO.latency.thresholdSeconds)}"}[$__range])) / sum(increase(api_request_duration_seconds_count{${J}, ${lat}}[$__range])))`,
        errorSeries: R.latencyErrors,
      }),
    ],
  });
}

/** PSI colour steps: stable below 0.1, a moderate shift up to the alert line, then red. */
const psiSteps: Threshold[] = [
  { color: 'green', value: null },
  { color: 'yellow', value: 0.1 },
  { color: 'red', value: LIMITS.psiWarning },
];

/** The model-quality dashboard (issue 5): what the model answers, how its inputs drift, rollouts. */
export function qualityDashboard(): Record<string, unknown> {
  const instanceVariable = queryVariable({ name: 'instance', label: 'Instance', selector: 'target_info{job=~"$job"}', labelName: 'instance', includeAll: true });
  const baseline = `max by (version) (model_baseline_positive_rate{${S}})`;
  const factor = num(LIMITS.collapsePositiveRateFactor);
  return dashboard({
    uid: QUALITY_UID,
    title: 'Inference Model Quality',
    description: `What the model answers and how its inputs drift: score distribution, positive rate against the training rate, PSI per feature and of the score (over a window of MODEL_DRIFT_WINDOW_ROWS recent rows, sampled at up to MODEL_DRIFT_MAX_ROWS_PER_SECOND rows/s), out-of-range inputs, refused model loads and the version timeline.`,
    tags: TAGS,
    links,
    time: { from: 'now-6h', to: 'now' },
    variables: [datasourceVariable(), jobVariable, instanceVariable],
    annotations: [VERSION_CHANGE_ANNOTATION],
    panels: [
      row('Overview'),
      stat({
        title: 'Model version',
        queries: [{ expr: `max by (version, name) (model_info{${S}})`, legend: '{{version}}' }],
        textMode: 'name',
        colorMode: 'none',
        w: 6,
      }),
      stat({
        title: 'Largest feature PSI',
        description: `Of every feature and instance, over the drift window. Empty until the window holds MODEL_DRIFT_MIN_ROWS rows. Alert: above ${num(LIMITS.psiWarning)}.`,
        queries: [{ expr: `max(model_feature_drift_psi{${S}})` }],
        decimals: 3,
        thresholds: psiSteps,
        w: 6,
      }),
      stat({
        title: 'Prediction PSI',
        description: `The score distribution over the drift window against training. Alert: above ${num(LIMITS.psiWarning)}.`,
        queries: [{ expr: `max(model_prediction_drift_psi{${S}})` }],
        decimals: 3,
        thresholds: psiSteps,
        w: 6,
      }),
      stat({
        title: 'Refused model loads',
        description: 'Rollouts refused over the selected range (the old model kept serving).',
        queries: [{ expr: `sum(increase(model_load_failures_total{${S}}[$__range]))` }],
        decimals: 0,
        thresholds: [{ color: 'green', value: null }, { color: 'orange', value: 1 }],
        w: 6,
      }),

      row('Predictions'),
      heatmap({
        title: 'Score distribution',
        description: 'Predicted probability of the positive class, per row. A healthy model piles up near 0 and near 1; a collapsed one fills a single band.',
        queries: [{ expr: `sum by (le) (increase(api_prediction_score_bucket{${S}}[$__rate_interval]))` }],
        unit: 'none',
        w: 24,
      }),
      timeseries({
        title: 'Positive rate against the training rate',
        description: `Share of rows predicted ${POSITIVE_LABEL}, per serving version, with the training rate of the model card and the collapse bounds (1/${factor} of the training rate, of either class).`,
        queries: [
          { expr: `${R.positiveRatio}{${S}}`, legend: '{{model_version}} {{instance}}' },
          { expr: baseline, legend: 'training {{version}}' },
          { expr: `${baseline} / ${factor}`, legend: 'collapse below ({{version}})' },
          { expr: `1 - (1 - ${baseline}) / ${factor}`, legend: 'collapse above ({{version}})' },
        ],
        unit: 'percentunit',
        min: 0,
        max: 1,
      }),
      timeseries({
        title: 'Scores in the extreme bands',
        description: `Share of scores at or below ${num(SCORE_BANDS.bottom)} and above ${num(SCORE_BANDS.top)}. The collapse alert fires above ${num(LIMITS.collapseBandShare * 100)}% in either.`,
        queries: [
          { expr: `${R.scoreBottomShare}{${S}}`, legend: `<= ${num(SCORE_BANDS.bottom)} {{model_version}} {{instance}}` },
          { expr: `${R.scoreTopShare}{${S}}`, legend: `> ${num(SCORE_BANDS.top)} {{model_version}} {{instance}}` },
        ],
        unit: 'percentunit',
        min: 0,
        max: 1,
        thresholds: [{ color: 'green', value: null }, { color: 'red', value: LIMITS.collapseBandShare }],
        thresholdsStyle: 'dashed',
      }),

      row('Drift'),
      timeseries({
        title: 'Top drifting features (PSI)',
        description: `The five features with the largest PSI at each point. Below 0.1 stable, 0.1 to ${num(LIMITS.psiWarning)} moderate, above: the feature-drift alert after its for:.`,
        queries: [{ expr: `topk(5, max by (feature) (model_feature_drift_psi{${S}}))`, legend: '{{feature}}' }],
        min: 0,
        thresholds: psiSteps,
        thresholdsStyle: 'dashed',
        w: 10,
      }),
      timeseries({
        title: 'Prediction drift (PSI)',
        queries: [{ expr: `max by (instance) (model_prediction_drift_psi{${S}})`, legend: '{{instance}}' }],
        min: 0,
        thresholds: psiSteps,
        thresholdsStyle: 'dashed',
        w: 8,
      }),
      timeseries({
        title: 'Rows in the drift window',
        description: 'PSI is reported once the window holds MODEL_DRIFT_MIN_ROWS rows; a rollout starts a fresh window.',
        queries: [{ expr: `max by (instance) (model_drift_window_rows{${S}})`, legend: '{{instance}}' }],
        unit: 'short',
        min: 0,
        w: 6,
      }),

      row('Inputs and rollouts'),
      timeseries({
        title: 'Out-of-range inputs/s by feature',
        description: 'Input values outside the training min..max. "none" is drawn while no feature has had one.',
        queries: [
          {
            expr: `sum by (feature) (rate(model_input_out_of_range_total{${S}}[$__rate_interval])) or on () label_replace(vector(0), "feature", "none", "", "")`,
            legend: '{{feature}}',
          },
        ],
        unit: 'short',
        min: 0,
      }),
      timeseries({
        title: 'Refused model loads by reason',
        description: 'Rollouts refused (the old model kept serving), by reason.',
        queries: [{ expr: `sum by (reason) (increase(model_load_failures_total{${S}}[$__rate_interval]))`, legend: '{{reason}}' }],
        unit: 'short',
        min: 0,
      }),
      modelVersionTimeline(),
    ],
  });
}

/** File name under infra/grafana/dashboards → dashboard JSON object. */
export function dashboards(): Record<string, Record<string, unknown>> {
  return {
    'inference-service-health.json': healthDashboard(),
    'inference-service-slo.json': sloDashboard(),
    'inference-model-quality.json': qualityDashboard(),
  };
}
