/**
 * Model-quality telemetry: the failures a 200 OK hides. For every prediction it records the
 * score distribution and feeds the serving model's drift window; the drift gauges read the
 * window at collection time. One window per model version: a rollout starts a fresh one, against
 * the new card's baselines.
 */
import type { DriftReading, ServiceMetrics } from '../../telemetry/metrics.ts';
import type { ModelCard } from './card.ts';
import { DriftMonitor, type DriftOptions } from './drift.ts';
import type { LoadedModel } from './model.ts';

/** Options for {@link createQualityMonitor}. */
export interface QualityOptions extends DriftOptions {
  /** Off: only the core prediction counter is kept (the benchmark compares both). */
  enabled: boolean;
  /**
   * At most this many rows per second (on average; bursts up to a window's worth) enter the
   * drift window; 0 puts every row in. PSI is a statistic of the input distribution, and a
   * sample estimates it as well as every row does, while binning 30 features is the largest
   * per-row cost of the quality metrics. A sample also makes the window span a useful time: at
   * 15,000 rows/s a window of the last 1,000 rows would cover 70 ms of traffic.
   */
  maxRowsPerSecond?: number;
}

/** Default of {@link QualityOptions.maxRowsPerSecond}. */
export const DEFAULT_MAX_ROWS_PER_SECOND = 1000;

/**
 * A token bucket of rows: `take(n)` says how many of `n` rows may enter now. It refills at
 * `rate` rows per second up to `burst`, so a quiet service (or a test) puts every row in.
 */
export function rowBudget(rate: number, burst: number, now: () => number = performance.now.bind(performance)): { take(n: number): number } {
  if (rate <= 0) return { take: (n) => n };
  let tokens = burst;
  let last = now();
  return {
    take(n) {
      const t = now();
      tokens = Math.min(burst, tokens + ((t - last) * rate) / 1000);
      last = t;
      const k = Math.min(n, Math.floor(tokens));
      tokens -= k;
      return k;
    },
  };
}

/** Records quality metrics for predictions. */
export interface QualityMonitor {
  /** Called after each successful inference. */
  observe(model: LoadedModel, data: Float32Array, rows: number, scores: Float32Array): void;
  /** The drift of `model`'s window, for the gauges. */
  drift(model: LoadedModel | undefined): { windowRows: number; reading: DriftReading | undefined } | undefined;
}

/** A monitor that records nothing. */
export const NO_QUALITY: QualityMonitor = { observe() {}, drift: () => undefined };

/** Creates the monitor. */
export function createQualityMonitor(metrics: ServiceMetrics, opts: QualityOptions): QualityMonitor {
  if (!opts.enabled) return NO_QUALITY;
  // Keyed by the model object: a swapped-out model's window is collected with it.
  const windows = new WeakMap<LoadedModel, DriftMonitor | null>();
  const windowOf = (model: LoadedModel): DriftMonitor | null => {
    let w = windows.get(model);
    if (w === undefined) {
      w = hasBaselines(model.card) ? new DriftMonitor(model.card, opts) : null;
      windows.set(model, w);
    }
    return w;
  };
  const budget = rowBudget(opts.maxRowsPerSecond ?? DEFAULT_MAX_ROWS_PER_SECOND, opts.windowRows);
  // The model changes only at a rollout: its window is found by an identity check, not a lookup.
  let lastModel: LoadedModel | undefined;
  let lastWindow: DriftMonitor | null = null;
  return {
    observe(model, data, rows, scores) {
      metrics.recordScores(model.version, scores, rows);
      if (model !== lastModel) {
        lastWindow = windowOf(model);
        lastModel = model;
      }
      const w = lastWindow;
      if (!w) return;
      // Training-range inputs are the rule: the drain (and its closure) only when some were not.
      if (w.countOutOfRange(data, rows) > 0) w.drainOutOfRange((j, count) => metrics.recordOutOfRange(w.features[j]!, count));
      const sampled = budget.take(rows);
      if (sampled > 0) w.add(data, sampled, scores);
    },
    drift(model) {
      const w = model && windowOf(model);
      return w ? { windowRows: w.rows, reading: w.snapshot() } : undefined;
    },
  };
}

/** Whether the card carries the baselines drift detection needs. */
function hasBaselines(card: ModelCard): boolean {
  return card.input.features.every((f) => card.baseline?.features?.[f]?.bin_shares) && Boolean(card.baseline?.score?.bin_shares);
}
