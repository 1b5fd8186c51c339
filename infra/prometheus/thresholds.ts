/**
 * The one place for alert thresholds, `for:` durations, rate windows and the SLOs. Rules
 * (`rules.ts`), dashboards (threshold lines) and the runbook's numbers all derive from here, so a
 * change is made once and the generated files, the rule tests and the dashboards follow.
 *
 * Values and timings are kept apart on purpose: a fast drill profile scales `TIMING` (1 s
 * evaluation, short windows) and leaves the values alone.
 */
import { LATENCY_OBJECTIVE_SECONDS } from '../../telemetry/instruments.ts';

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
} as const;

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
  },
};

/** The error budget of an objective, free of float noise (1 - 0.999 is 0.0010000000000000009). */
export function errorBudget(objective: number): number {
  return Number((1 - objective).toPrecision(12));
}
