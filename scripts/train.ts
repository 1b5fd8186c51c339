/**
 * `npm run train`: fits the logistic-regression classifier on the bundled data set and writes
 * the ONNX model and its model card to models/. Deterministic: the same data, seed and version
 * give byte-identical files (the tests check this).
 *
 * Usage: node scripts/train.ts [--data data/breast-cancer-wisconsin.csv] [--out models]
 *        [--version 1.0.0] [--seed 42] [--l2 1] [--name breast-cancer]
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Baseline, ModelCard } from '../src/model/card.ts';
import { binShares, DECILE_PROBS, quantiles, rocAuc } from '../src/model/stats.ts';
import { readCsv, stratifiedSplit } from './train/data.ts';
import { fitLogistic, predictRow } from './train/logreg.ts';
import { buildLogisticOnnx, INPUT_NAME, OUTPUT_NAME } from './train/onnx.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: 'data/breast-cancer-wisconsin.csv' },
    out: { type: 'string', default: 'models' },
    name: { type: 'string', default: 'breast-cancer' },
    version: { type: 'string', default: '1.0.0' },
    seed: { type: 'string', default: '42' },
    l2: { type: 'string', default: '1' },
  },
});

const TEST_FRACTION = 0.2;
const seed = Number(args.seed);
const l2 = Number(args.l2);
const round = (v: number, digits = 6) => Number(v.toFixed(digits));

function baselineOf(values: number[]): Baseline {
  const deciles = quantiles(values, DECILE_PROBS).map((v) => round(v, 8));
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
  return {
    min: Math.min(...values),
    max: Math.max(...values),
    mean: round(mean, 8),
    std: round(std, 8),
    deciles,
    bin_shares: binShares(values, deciles).map((v) => round(v, 6)),
  };
}

const data = readCsv(args.data!);
const split = stratifiedSplit(data.y, TEST_FRACTION, seed);
const pick = <T>(rows: readonly T[], idx: number[]) => idx.map((i) => rows[i]!);
const [xTrain, yTrain, xTest, yTest] = [pick(data.x, split.train), pick(data.y, split.train), pick(data.x, split.test), pick(data.y, split.test)];

const model = fitLogistic(xTrain, yTrain, { l2 });
// Scores in float32, as onnxruntime computes them, so baselines match what the service sees.
const toF32 = (v: number) => Math.fround(v);
const testScores = xTest.map((r) => toF32(predictRow(model, r)));
const trainScores = xTrain.map((r) => toF32(predictRow(model, r)));
const threshold = 0.5;
const accuracy = testScores.filter((p, i) => (p >= threshold ? 1 : 0) === yTest[i]).length / yTest.length;
const auc = rocAuc(testScores, yTest);

const stem = `${args.name}-v${args.version}`;
const onnxFile = `${stem}.onnx`;
const onnxBytes = buildLogisticOnnx(model, {
  docString: `Logistic regression on the Breast Cancer Wisconsin (Diagnostic) data set; P(malignant).`,
  metadata: { name: args.name!, version: args.version!, features: data.featureNames.join(',') },
});

const card: ModelCard = {
  schema_version: 1,
  name: args.name!,
  version: args.version!,
  description: 'Probability that a breast mass is malignant, from 30 features of a fine needle aspirate image.',
  task: 'binary-classification',
  input: { name: INPUT_NAME, dtype: 'float32', features: data.featureNames },
  output: { name: OUTPUT_NAME, positive_label: 'malignant', negative_label: 'benign', threshold },
  training: {
    data: { file: basename(args.data!), sha256: data.sha256, rows: data.y.length, positives: data.y.filter((v) => v === 1).length },
    split: { method: 'stratified', test_fraction: TEST_FRACTION, seed, train_rows: xTrain.length, test_rows: xTest.length },
    algorithm: 'logistic regression, L2-penalised, Newton-Raphson; standardisation inside the graph',
    l2,
  },
  metrics: {
    heldout_accuracy: round(accuracy),
    heldout_roc_auc: round(auc),
    train_positive_rate: round(yTrain.filter((v) => v === 1).length / yTrain.length),
  },
  baseline: {
    features: Object.fromEntries(data.featureNames.map((f, j) => [f, baselineOf(xTrain.map((r) => r[j]!))])),
    score: { ...baselineOf(trainScores), positive_rate: round(trainScores.filter((p) => p >= threshold).length / trainScores.length) },
  },
  artifact: { file: onnxFile, sha256: createHash('sha256').update(onnxBytes).digest('hex'), bytes: onnxBytes.length },
};

mkdirSync(args.out!, { recursive: true });
writeFileSync(join(args.out!, onnxFile), onnxBytes);
writeFileSync(join(args.out!, `${stem}.card.json`), `${JSON.stringify(card, null, 2)}\n`);
console.log(`trained ${args.name} v${args.version}: held-out accuracy ${accuracy.toFixed(4)}, ROC AUC ${auc.toFixed(4)} (${xTest.length} rows)`);
console.log(`wrote ${join(args.out!, onnxFile)} and ${join(args.out!, `${stem}.card.json`)}`);
