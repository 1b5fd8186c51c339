import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCard } from '../src/model/card.ts';
import { loadModel, ModelLoadError } from '../src/model/model.ts';
import { rocAuc } from '../src/model/stats.ts';
import { stratifiedSplit } from '../scripts/train/data.ts';
import { CARD_PATH, datasetRows, loadBundledModel, MODEL_PATH } from './helpers/app.ts';
import { REPO_ROOT } from './helpers/tools.ts';

describe('the bundled model', () => {
  it('scores the held-out split with ROC AUC >= 0.97 through onnxruntime, as its card says', async () => {
    const card = await readCard(CARD_PATH);
    const { rows, labels, features } = datasetRows();
    expect(card.input.features).toEqual(features);
    const { test } = stratifiedSplit(labels, card.training.split.test_fraction, card.training.split.seed);
    expect(test).toHaveLength(card.training.split.test_rows);
    const model = await loadBundledModel();
    const scores = await model.predict(Float32Array.from(test.flatMap((i) => rows[i]!)), test.length);
    const y = test.map((i) => labels[i]!);
    const auc = rocAuc(scores, y);
    const accuracy = y.filter((v, i) => (scores[i]! >= 0.5 ? 1 : 0) === v).length / y.length;
    expect(auc).toBeGreaterThanOrEqual(0.97);
    expect(auc).toBeCloseTo(card.metrics.heldout_roc_auc, 5);
    expect(accuracy).toBeCloseTo(card.metrics.heldout_accuracy, 5);
    // The test split is stratified: both classes in the data set's proportion (212/569).
    expect(y.filter((v) => v === 1).length).toBe(Math.round(212 * 0.2));
    await model.release();
  });

  it('has a card with version, feature order, data hash and baselines for drift detection', async () => {
    const card = await readCard(CARD_PATH);
    const csv = readFileSync(join(REPO_ROOT, 'data/breast-cancer-wisconsin.csv'));
    const { createHash } = await import('node:crypto');
    expect(card.training.data.sha256).toBe(createHash('sha256').update(csv).digest('hex'));
    expect(card.version).toBe('1.0.0');
    expect(card.input.features).toHaveLength(30);
    for (const f of card.input.features) {
      const b = card.baseline.features[f]!;
      expect(b.deciles).toHaveLength(9);
      expect(b.min).toBeLessThanOrEqual(b.deciles[0]!);
      expect(b.max).toBeGreaterThanOrEqual(b.deciles[8]!);
      expect([...b.deciles].sort((a, c) => a - c)).toEqual(b.deciles);
    }
    expect(card.baseline.score.deciles).toHaveLength(9);
    expect(card.baseline.score.positive_rate).toBeGreaterThan(0.3);
    expect(card.baseline.score.positive_rate).toBeLessThan(0.45);
    expect(card.artifact.sha256).toBe(createHash('sha256').update(readFileSync(MODEL_PATH)).digest('hex'));
  });

  it('is reproduced byte for byte by npm run train', () => {
    const out = mkdtempSync(join(tmpdir(), 'train-'));
    execFileSync(process.execPath, ['scripts/train.ts', '--out', out], { cwd: REPO_ROOT, stdio: 'pipe' });
    expect(readFileSync(join(out, 'breast-cancer-v1.0.0.onnx')).equals(readFileSync(MODEL_PATH))).toBe(true);
    expect(readFileSync(join(out, 'breast-cancer-v1.0.0.card.json'), 'utf8')).toBe(readFileSync(CARD_PATH, 'utf8'));
  });
});

describe('loadModel refuses bad artifacts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-'));

  it('rejects a file that does not match the card hash', async () => {
    const bad = join(dir, 'corrupt.onnx');
    const bytes = readFileSync(MODEL_PATH);
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff;
    writeFileSync(bad, bytes);
    await expect(loadModel({ modelPath: bad, cardPath: CARD_PATH, maxBatch: 8 })).rejects.toThrow(/does not match its card/);
  });

  it('rejects a file onnxruntime cannot parse, even with a matching hash', async () => {
    const bad = join(dir, 'garbage.onnx');
    writeFileSync(bad, 'not an onnx model');
    const card = JSON.parse(readFileSync(CARD_PATH, 'utf8'));
    delete card.artifact.sha256;
    const cardPath = join(dir, 'garbage.card.json');
    writeFileSync(cardPath, JSON.stringify(card));
    await expect(loadModel({ modelPath: bad, cardPath, maxBatch: 8 })).rejects.toBeInstanceOf(ModelLoadError);
  });

  it('rejects a card whose input name the graph lacks', async () => {
    const card = JSON.parse(readFileSync(CARD_PATH, 'utf8'));
    card.input.name = 'x';
    const cardPath = join(dir, 'renamed.card.json');
    writeFileSync(cardPath, JSON.stringify(card));
    copyFileSync(MODEL_PATH, join(dir, 'renamed.onnx'));
    await expect(loadModel({ modelPath: join(dir, 'renamed.onnx'), cardPath, maxBatch: 8 })).rejects.toThrow(/expects 'x'/);
  });

  it('rejects a missing card and an invalid one', async () => {
    await expect(loadModel({ modelPath: MODEL_PATH, cardPath: join(dir, 'nope.json'), maxBatch: 8 })).rejects.toMatchObject({
      reason: 'unreadable',
      message: expect.stringMatching(/cannot read model card/),
    });
    const cardPath = join(dir, 'invalid.card.json');
    writeFileSync(cardPath, JSON.stringify({ schema_version: 1, name: 'x', version: 'bad version!' }));
    await expect(loadModel({ modelPath: MODEL_PATH, cardPath, maxBatch: 8 })).rejects.toThrow(/'version'/);
  });
});
