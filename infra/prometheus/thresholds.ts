/**
 * The one place for alert thresholds, `for:` durations, rate windows and the SLOs. Rules
 * (`rules.ts`), dashboards (threshold lines) and the runbook's numbers all derive from here, so a
 * change is made once and the generated files, the rule tests and the dashboards follow.
 *
 * Values and timings are kept apart on purpose: a fast drill profile scales `TIMING` (1 s
 * evaluation, short windows) and leaves the values alone.
 */
import { LATENCY_OBJECTIVE_SECONDS, SCORE_BUCKETS } from '../../telemetry/instruments.ts';

/** The Prometheus job of the service (prometheus.yml scrapes it under this name). */
export const API_JOB = 'inference-api';

/** Service level objectives. The period is the workbook's 30 days the burn factors assume. */
export const SLO = {
  periodDays: 30,
  availability: {
    /** Fraction of requests that must not fail with a 5xx. */
    objective: 0.999,
    /** User-facing routes only: probes (/health, /ready answers 503 while loading) and /metrics would blur the signal. */
    endpoints: ['/predict', '/model'],
  },
  latency: {
    /** Fraction of /predict requests that must finish within `thresholdSeconds`. */
    objective: 0.99,
    thresholdSeconds: LATENCY_OBJECTIVE_SECONDS,
    endpoint: '/predict',
  },
} as const;

/** Canonical window names. Recording rules are named after these, whatever duration a profile maps them to. */
export type WindowName = '5m' | '30m' | '1h' | '2h' | '6h' | '1d' | '3d';
export const WINDOW_NAMES: readonly WindowName[] = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'];

/** One multi-window burn-rate condition (SRE workbook, chapter 5, "multiwindow, multi-burn-rate"). */
export interface BurnWindow {
  readonly long: WindowName;
  readonly short: WindowName;
  /** Burn-rate factor: 14.4 spends 2% of a 30-day budget in 1 h. */
  readonly factor: number;
}

/** Fast burns page, slow burns open a ticket. */
export const BURN_RATES = {
  fast: [
    { long: '1h', short: '5m', factor: 14.4 },
    { long: '6h', short: '30m', factor: 6 },
  ],
  slow: [
    { long: '1d', short: '2h', factor: 3 },
    { long: '3d', short: '6h', factor: 1 },
  ],
} as const satisfies Record<'fast' | 'slow', readonly BurnWindow[]>;

/** Alert thresholds (values only; their `for:` is in TIMING). */
export const LIMITS = {
  /** 5xx share of all requests. 5% is far beyond the 0.1% budget: something is broken now. */
  errorRatio: 0.05,
  /** p99 of /predict: the design's objective. */
  latencyP99Seconds: LATENCY_OBJECTIVE_SECONDS,
  /** p95 of the last hour against the same hour yesterday. */
  latencyCreepFactor: 1.5,
  /** Below this p95 a relative jump is noise between sub-millisecond buckets, not a regression. */
  latencyCreepMinSeconds: 0.05,
  /** Share of alert notifications Prometheus fails to deliver. */
  notificationErrorRatio: 0.01,

  // Model quality (issue 5).
  /**
   * Population stability index above which a feature's (or the score's) recent distribution has
   * moved away from training. The usual reading: < 0.1 stable, 0.1..0.25 moderate shift, > 0.25 a
   * significant shift. Normal traffic from the data set stays below 0.1 on a 1000-row window.
   */
  psiWarning: 0.25,
  /**
   * Collapse, first test: more than this share of the scores in one extreme band (see
   * SCORE_BANDS). The healthy model puts 26% of the scores at or below 0.001 and 23% above 0.999;
   * the broken one 100% at 0.0. 95% leaves room for a skewed day without missing a dead model.
   */
  collapseBandShare: 0.95,
  /**
   * Collapse, second test: the live positive rate is below the training rate divided by this
   * factor, or the negative rate below the training negative rate divided by it. For v1.0.0
   * (36.6% positive in training) that is below 7.3% or above 87.3% positive: a case mix can
   * shift, but not five-fold. Any constant output (0.0, 0.42, 1.0) lands here, whatever its band.
   */
  collapsePositiveRateFactor: 5,
  /**
   * "While traffic flows": at least this many predictions over the collapse window (the 5m rate
   * window), or the positive rate of a handful of rows is noise. With 36.6% positives, 60 rows
   * with at most 7.3% positive happen by chance with a probability of about 1e-7.
   */
  collapseMinRows: 60,
} as const;

/**
 * The score bands the collapse alert watches: `bottom` is the share of scores at or below the
 * value, `top` the share above it. Both must be bucket boundaries of `api_prediction_score`.
 */
export const SCORE_BANDS = { bottom: 0.001, top: 0.999 } as const;
for (const b of Object.values(SCORE_BANDS)) {
  if (!(SCORE_BUCKETS as readonly number[]).includes(b)) throw new Error(`SCORE_BANDS: ${b} is not an api_prediction_score bucket boundary`);
}

/** The `label` value of a positive prediction (the model card's `output.positive_label`). */
export const POSITIVE_LABEL = 'malignant';

/** Durations: the rate window each canonical window maps to, and every alert's `for:`. */
export interface Timing {
  readonly windows: Readonly<Record<WindowName, string>>;
  /** How far back the latency-creep baseline is ("the same hour yesterday"). */
  readonly creepBaselineOffset: string;
  readonly for: {
    readonly apiDown: string;
    readonly apiAbsent: string;
    readonly errorRatio: string;
    readonly latencyP99: string;
    readonly latencyCreep: string;
    readonly predictionsStalled: string;
    readonly burnFast: string;
    readonly burnSlow: string;
    readonly ruleFailures: string;
    readonly targetsDown: string;
    readonly alertmanagerUnreachable: string;
    readonly predictionsCollapsed: string;
    readonly featureDrift: string;
    readonly predictionDrift: string;
    readonly modelLoadFailed: string;
  };
}

/** Production timing (15 s scrape and evaluation). */
export const TIMING: Timing = {
  windows: { '5m': '5m', '30m': '30m', '1h': '1h', '2h': '2h', '6h': '6h', '1d': '1d', '3d': '3d' },
  creepBaselineOffset: '1d',
  for: {
    // Four failed scrapes: one slow scrape or a quick restart must not page.
    apiDown: '1m',
    apiAbsent: '5m',
    errorRatio: '5m',
    latencyP99: '10m',
    // The 1 h p95 is already smooth; 30 m more rules out a single busy batch.
    latencyCreep: '30m',
    predictionsStalled: '10m',
    // Workbook-style windows already filter noise; `for:` only absorbs evaluation jitter.
    burnFast: '2m',
    burnSlow: '15m',
    ruleFailures: '10m',
    targetsDown: '5m',
    alertmanagerUnreachable: '10m',
    // A dead model answers every request with a wrong answer: page soon, the 5m window already
    // needs 60 rows (LIMITS.collapseMinRows) and 5 more minutes rule out a rollout's first batch.
    predictionsCollapsed: '5m',
    // Drift is measured over a window of the last 1000 rows, which turns over in minutes at
    // normal traffic; 15 minutes above the line is a sustained shift, not a burst of odd clients.
    featureDrift: '15m',
    predictionDrift: '15m',
    // A refused load is a single event, already over when it is counted: no reason to wait. The
    // alert then stays for the 1h window (windows['1h']) so the ticket is not missed.
    modelLoadFailed: '0s',
  },
};

/** A Prometheus duration ("1h30m", "15s") in seconds. */
export function durationSeconds(d: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let total = 0;
  let seen = 0;
  const re = /(\d+)(ms|s|m|h|d|w|y)/gy;
  for (let m = re.exec(d); m; m = re.exec(d)) {
    total += Number(m[1]) * units[m[2]!]!;
    seen += m[0].length;
  }
  if (d.length === 0 || seen !== d.length) throw new Error(`not a Prometheus duration: '${d}'`);
  return total;
}

/** The error budget of an objective, free of float noise (1 - 0.999 is 0.0010000000000000009). */
export function errorBudget(objective: number): number {
  return Number((1 - objective).toPrecision(12));
}
