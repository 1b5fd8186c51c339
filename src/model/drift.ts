/**
 * Input and prediction drift, measured inside the service at almost no cost per row: each
 * feature value is binned against the training deciles (a 4-step binary search) into a sliding
 * window of recent rows; the population stability index (PSI) against the training shares is
 * computed only when metrics are collected. Values outside the training min..max are counted
 * separately, for every row.
 */
import type { ModelCard } from './card.ts';
import { binIndex, psi } from './stats.ts';

/** Options for {@link DriftMonitor}. */
export interface DriftOptions {
  /** How many recent rows the window holds. */
  windowRows: number;
  /** PSI is not reported until the window holds this many rows: tiny samples are noise. */
  minRows: number;
}

/** Defaults: a thousand rows gives a PSI noise floor near 0.01, far below the 0.25 alarm. */
export const DEFAULT_DRIFT_OPTIONS: DriftOptions = { windowRows: 1000, minRows: 200 };

/** The PSI of every feature and of the score, for the gauges. */
export interface DriftSnapshot {
  readonly rows: number;
  readonly features: ReadonlyArray<readonly [name: string, psi: number]>;
  readonly score: number;
}

/** The drift window of one model version. */
export class DriftMonitor {
  readonly features: readonly string[];
  readonly #opts: DriftOptions;
  readonly #width: number;
  readonly #edges: Float64Array[];
  readonly #expected: Float64Array[];
  readonly #min: Float64Array;
  readonly #max: Float64Array;
  readonly #scoreEdges: Float64Array;
  readonly #scoreExpected: Float64Array;
  /** Bin of each (row, feature) in the window, row-major, plus the score's bin per row. */
  readonly #bins: Uint8Array;
  readonly #scoreBins: Uint8Array;
  /** Rows per bin, per feature (feature × 10) and for the score. */
  readonly #counts: Int32Array;
  readonly #scoreCounts: Int32Array;
  /** Out-of-range values since the last drain, per feature. */
  readonly outOfRange: Int32Array;
  readonly #nBins: number;
  #next = 0;
  #filled = 0;

  constructor(card: ModelCard, opts: DriftOptions = DEFAULT_DRIFT_OPTIONS) {
    this.features = card.input.features;
    this.#opts = opts;
    const w = (this.#width = this.features.length);
    const base = this.features.map((f) => {
      const b = card.baseline?.features?.[f];
      if (!b?.deciles || !b.bin_shares) throw new Error(`model card has no baseline for feature '${f}'`);
      return b;
    });
    const nBins = base[0]!.bin_shares.length;
    this.#edges = base.map((b) => Float64Array.from(b.deciles));
    this.#expected = base.map((b) => Float64Array.from(b.bin_shares));
    this.#min = Float64Array.from(base, (b) => b.min);
    this.#max = Float64Array.from(base, (b) => b.max);
    this.#scoreEdges = Float64Array.from(card.baseline.score.deciles);
    this.#scoreExpected = Float64Array.from(card.baseline.score.bin_shares);
    this.#bins = new Uint8Array(opts.windowRows * w);
    this.#scoreBins = new Uint8Array(opts.windowRows);
    this.#counts = new Int32Array(w * nBins);
    this.#scoreCounts = new Int32Array(this.#scoreExpected.length);
    this.outOfRange = new Int32Array(w);
    this.#nBins = nBins;
  }

  /**
   * Counts the values of `rows` rows outside the training min..max. Every row served is counted
   * (the counter is exact), while only a sample of rows may be {@link add}ed to the window.
   * Returns how many values were out of range, so a caller drains only when there is something.
   */
  countOutOfRange(data: Float32Array, rows: number): number {
    const w = this.#width;
    const min = this.#min;
    const max = this.#max;
    const oor = this.outOfRange;
    let found = 0;
    for (let r = 0, off = 0; r < rows; r++, off += w) {
      for (let j = 0; j < w; j++) {
        const v = data[off + j]!;
        if (v < min[j]! || v > max[j]!) {
          oor[j]!++;
          found++;
        }
      }
    }
    return found;
  }

  /** Adds the first `rows` rows of `data` (rows × features) and their scores to the window. */
  add(data: Float32Array, rows: number, scores: Float32Array): void {
    const w = this.#width;
    const nb = this.#nBins;
    const windowRows = this.#opts.windowRows;
    const bins = this.#bins;
    const counts = this.#counts;
    for (let r = 0; r < rows; r++) {
      const slot = this.#next;
      const evict = this.#filled === windowRows;
      const rowOff = r * w;
      const slotOff = slot * w;
      for (let j = 0; j < w; j++) {
        const b = binIndex(this.#edges[j]!, data[rowOff + j]!);
        if (evict) counts[j * nb + bins[slotOff + j]!]!--;
        bins[slotOff + j] = b;
        counts[j * nb + b]!++;
      }
      const sb = binIndex(this.#scoreEdges, scores[r]!);
      if (evict) this.#scoreCounts[this.#scoreBins[slot]!]!--;
      this.#scoreBins[slot] = sb;
      this.#scoreCounts[sb]!++;
      this.#next = slot + 1 === windowRows ? 0 : slot + 1;
      if (!evict) this.#filled++;
    }
  }

  /** Calls `fn(featureIndex, count)` for each feature with out-of-range values since the last drain. */
  drainOutOfRange(fn: (feature: number, count: number) => void): void {
    const oor = this.outOfRange;
    for (let j = 0; j < oor.length; j++) {
      if (oor[j] !== 0) {
        fn(j, oor[j]!);
        oor[j] = 0;
      }
    }
  }

  /** Rows now in the window. */
  get rows(): number {
    return this.#filled;
  }

  /** PSI per feature and for the score, or undefined while the window is below `minRows`. */
  snapshot(): DriftSnapshot | undefined {
    const n = this.#filled;
    if (n < this.#opts.minRows) return undefined;
    const nb = this.#nBins;
    const features = this.features.map(
      (f, j) => [f, psi(this.#counts.subarray(j * nb, (j + 1) * nb), n, this.#expected[j]!)] as const,
    );
    return { rows: n, features, score: psi(this.#scoreCounts, n, this.#scoreExpected) };
  }
}
