/** Reading the training CSV and splitting it reproducibly. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** A numeric data set: rows of features and a 0/1 label per row. */
export interface Dataset {
  readonly featureNames: string[];
  readonly x: number[][];
  readonly y: number[];
  /** sha256 of the file's bytes, recorded in the model card. */
  readonly sha256: string;
}

/** Reads a CSV whose last column is the 0/1 label and all others numeric features. */
export function readCsv(path: string, labelColumn = 'malignant'): Dataset {
  const bytes = readFileSync(path);
  const lines = bytes.toString('utf8').trim().split(/\r?\n/);
  const header = lines[0]!.split(',');
  const labelAt = header.indexOf(labelColumn);
  if (labelAt !== header.length - 1) throw new Error(`${path}: expected '${labelColumn}' as the last column`);
  const x: number[][] = [];
  const y: number[] = [];
  lines.slice(1).forEach((line, i) => {
    const cells = line.split(',').map(Number);
    if (cells.length !== header.length || cells.some((v) => !Number.isFinite(v))) {
      throw new Error(`${path}:${i + 2}: expected ${header.length} numeric cells`);
    }
    y.push(cells.pop()!);
    x.push(cells);
  });
  return { featureNames: header.slice(0, -1), x, y, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** mulberry32: a tiny, well-distributed 32-bit PRNG, so the split is the same everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Row indices of a stratified split: each class is shuffled and cut at the same ratio. */
export function stratifiedSplit(y: readonly number[], testFraction: number, seed: number): { train: number[]; test: number[] } {
  const rand = seededRandom(seed);
  const train: number[] = [];
  const test: number[] = [];
  for (const cls of [...new Set(y)].sort()) {
    const rows = y.flatMap((v, i) => (v === cls ? [i] : []));
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [rows[i], rows[j]] = [rows[j]!, rows[i]!];
    }
    const nTest = Math.round(rows.length * testFraction);
    test.push(...rows.slice(0, nTest));
    train.push(...rows.slice(nTest));
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}
