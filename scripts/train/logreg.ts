/** L2-regularised logistic regression on standardised features, fitted by Newton's method. */

/** A fitted model in raw-feature terms: standardisation first, then the linear score. */
export interface LogisticModel {
  readonly mean: number[];
  readonly std: number[];
  readonly weights: number[];
  readonly bias: number;
}

/** Training options with their defaults. */
export interface LogRegOptions {
  /** L2 penalty on the weights (not the bias), in standardised units. */
  l2?: number;
  maxIterations?: number;
  tolerance?: number;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Solves A v = b for a small symmetric positive-definite A (Cholesky). */
function solveSpd(a: number[][], b: number[]): number[] {
  const n = b.length;
  const l = a.map(() => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i]![j]!;
      for (let k = 0; k < j; k++) s -= l[i]![k]! * l[j]![k]!;
      l[i]![j] = i === j ? Math.sqrt(s) : s / l[j]![j]!;
    }
  }
  const z = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i]![k]! * z[k]!;
    z[i] = s / l[i]![i]!;
  }
  const v = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < n; k++) s -= l[k]![i]! * v[k]!;
    v[i] = s / l[i]![i]!;
  }
  return v;
}

/**
 * Fits the model. Newton's method (IRLS) converges in a handful of iterations on 30 features
 * and, unlike gradient descent, needs no learning rate: the result depends only on the data and
 * the penalty, which keeps the committed artifacts reproducible.
 */
export function fitLogistic(x: number[][], y: number[], opts: LogRegOptions = {}): LogisticModel {
  const { l2 = 1, maxIterations = 50, tolerance = 1e-10 } = opts;
  const d = x[0]!.length;
  const mean = Array.from({ length: d }, (_, j) => x.reduce((s, r) => s + r[j]!, 0) / x.length);
  const std = Array.from({ length: d }, (_, j) => {
    const v = x.reduce((s, r) => s + (r[j]! - mean[j]!) ** 2, 0) / x.length;
    return Math.sqrt(v) || 1;
  });
  // Design matrix with a leading 1 for the bias.
  const z = x.map((r) => [1, ...r.map((v, j) => (v - mean[j]!) / std[j]!)]);
  let beta = new Array<number>(d + 1).fill(0);
  for (let it = 0; it < maxIterations; it++) {
    const grad = new Array<number>(d + 1).fill(0);
    const hess = Array.from({ length: d + 1 }, () => new Array<number>(d + 1).fill(0));
    for (let i = 0; i < z.length; i++) {
      const zi = z[i]!;
      const p = sigmoid(zi.reduce((s, v, j) => s + v * beta[j]!, 0));
      const w = p * (1 - p);
      for (let j = 0; j <= d; j++) {
        grad[j]! += (p - y[i]!) * zi[j]!;
        for (let k = 0; k <= j; k++) hess[j]![k]! += w * zi[j]! * zi[k]!;
      }
    }
    for (let j = 0; j <= d; j++) {
      for (let k = 0; k < j; k++) hess[k]![j] = hess[j]![k]!;
      if (j > 0) {
        grad[j]! += l2 * beta[j]!;
        hess[j]![j]! += l2;
      }
    }
    const step = solveSpd(hess, grad);
    beta = beta.map((b, j) => b - step[j]!);
    if (Math.max(...step.map(Math.abs)) < tolerance) break;
  }
  return { mean, std, weights: beta.slice(1), bias: beta[0]! };
}

/** The model's probability for one raw row (the same arithmetic the ONNX graph does). */
export function predictRow(m: LogisticModel, row: readonly number[]): number {
  let s = m.bias;
  for (let j = 0; j < row.length; j++) s += ((row[j]! - m.mean[j]!) / m.std[j]!) * m.weights[j]!;
  return sigmoid(s);
}
