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
  return {
    observe(model, data, rows, scores) {
      metrics.recordScores(model.version, scores, rows);
      const w = windowOf(model);
      if (!w) return;
      w.add(data, rows, scores);
      w.drainOutOfRange((j, count) => metrics.recordOutOfRange(w.features[j]!, count));
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
