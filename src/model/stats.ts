/** Small numeric helpers shared by training, the model card and drift detection. */

/**
 * Quantiles by linear interpolation between closest ranks (the "type 7" estimator used by
 * numpy and R by default), so baselines computed here match what analysts compute elsewhere.
 */
export function quantiles(values: ArrayLike<number>, probs: readonly number[]): number[] {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) throw new RangeError('quantiles of an empty sample');
  return probs.map((p) => {
    const h = (n - 1) * p;
    const lo = Math.floor(h);
    const hi = Math.min(lo + 1, n - 1);
    return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
  });
}

/** The nine inner decile cut points (10%..90%): they split a sample into ten equal bins. */
export const DECILE_PROBS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] as const;

/**
 * Area under the ROC curve by the rank-sum (Mann-Whitney) statistic, with tied scores given
 * their average rank.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[idx[k]!] = avg;
    i = j + 1;
  }
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i] === 1) {
      pos++;
      rankSum += ranks[i]!;
    }
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) throw new RangeError('ROC AUC needs both classes');
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * The bin of `v` among cut points `edges` (sorted): bin i holds (edges[i-1], edges[i]], the
 * first bin everything up to edges[0], the last everything above the last edge. Training and
 * drift detection both bin with this one function, so their shares are comparable.
 */
export function binIndex(edges: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v > edges[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The share of `values` in each of the `edges.length + 1` bins. */
export function binShares(values: ArrayLike<number>, edges: ArrayLike<number>): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let i = 0; i < values.length; i++) counts[binIndex(edges, values[i]!)]!++;
  return counts.map((c) => c / values.length);
}

/** Shares below this count as this, so an empty bin gives a large but finite PSI term. */
export const PSI_EPSILON = 1e-4;

/**
 * Population stability index: Σ (actual − expected) · ln(actual / expected) over bins. Common
 * reading: < 0.1 stable, 0.1–0.25 some shift, > 0.25 a significant shift.
 */
export function psi(actualCounts: ArrayLike<number>, total: number, expectedShares: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < expectedShares.length; i++) {
    const a = Math.max(actualCounts[i]! / total, PSI_EPSILON);
    const e = Math.max(expectedShares[i]!, PSI_EPSILON);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}
