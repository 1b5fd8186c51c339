import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCard } from '../src/model/card.ts';
import { DriftMonitor } from '../src/model/drift.ts';
import { rowBudget } from '../src/model/quality.ts';
import { binIndex, psi } from '../src/model/stats.ts';
import { sampleValue, samplesOf } from './helpers/exposition.ts';
import { CARD_PATH, datasetRows, makeTestApp, MODEL_PATH } from './helpers/app.ts';

const { rows, features } = datasetRows();
const flat = (rs: number[][]) => Float32Array.from(rs.flat());
const col = (name: string) => features.indexOf(name);

describe('stats', () => {
  it('bins by upper-inclusive intervals and computes PSI', () => {
    expect([0, 1, 1.5, 2, 3, 9].map((v) => binIndex([1, 2, 3], v))).toEqual([0, 0, 1, 1, 2, 3]);
    expect(psi([25, 25, 25, 25], 100, [0.25, 0.25, 0.25, 0.25])).toBe(0);
    // All mass moved to one bin: a huge PSI.
    expect(psi([100, 0, 0, 0], 100, [0.25, 0.25, 0.25, 0.25])).toBeGreaterThan(2);
  });
});

describe('rowBudget (the drift window sample)', () => {
  it('lets a burst of a window through, then refills at the rate; 0 means every row', () => {
    let now = 0;
    const b = rowBudget(1000, 500, () => now);
    expect(b.take(400)).toBe(400);
    expect(b.take(400)).toBe(100); // the burst is spent
    expect(b.take(1)).toBe(0);
    now += 50; // 50 ms at 1000 rows/s
    expect(b.take(80)).toBe(50);
    now += 10_000; // never more than the burst
    expect(b.take(10_000)).toBe(500);
    expect(rowBudget(0, 10).take(1_000_000)).toBe(1_000_000);
  });
});

describe('DriftMonitor', () => {
  it('stays low on the data the model was trained on, and names a shifted feature', async () => {
    const card = await readCard(CARD_PATH);
    const m = new DriftMonitor(card, { windowRows: 500, minRows: 200 });
    expect(m.snapshot()).toBeUndefined();
    const scores = new Float32Array(569).fill(0.5);
    m.add(flat(rows.slice(0, 150)), 150, scores);
    expect(m.snapshot()).toBeUndefined(); // below minRows
    m.add(flat(rows.slice(150, 500)), 350, scores);
    const normal = m.snapshot()!;
    expect(normal.rows).toBe(500);
    for (const [, v] of normal.features) expect(v).toBeLessThan(0.1);

    // The next 500 rows with two features scaled by 1.5: the window holds only them.
    const shifted = rows.slice(0, 500).map((r) => r.map((v, j) => (j === col('mean_radius') || j === col('worst_area') ? v * 1.5 : v)));
    m.add(flat(shifted), 500, scores);
    const drifted = Object.fromEntries(m.snapshot()!.features);
    expect(drifted.mean_radius).toBeGreaterThan(0.25);
    expect(drifted.worst_area).toBeGreaterThan(0.25);
    expect(drifted.mean_texture).toBeLessThan(0.1);

    // Back to normal rows: the window forgets the shift.
    m.add(flat(rows.slice(0, 500)), 500, scores);
    expect(Object.fromEntries(m.snapshot()!.features).mean_radius).toBeLessThan(0.1);
  });

  it('flags a collapsed score distribution as prediction drift', async () => {
    const card = await readCard(CARD_PATH);
    const m = new DriftMonitor(card, { windowRows: 300, minRows: 100 });
    m.add(flat(rows.slice(0, 300)), 300, new Float32Array(300));
    expect(m.snapshot()!.score).toBeGreaterThan(1);
  });

  it('counts values outside the training min..max per feature', async () => {
    const card = await readCard(CARD_PATH);
    const m = new DriftMonitor(card, { windowRows: 10, minRows: 1 });
    const row = [...rows[0]!];
    row[col('mean_area')] = card.baseline.features.mean_area!.max * 2;
    row[col('mean_texture')] = -1;
    expect(m.countOutOfRange(flat([row, row, rows[1]!]), 3)).toBe(4);
    expect(m.countOutOfRange(flat([rows[1]!]), 1)).toBe(0);
    const seen: Record<string, number> = {};
    m.drainOutOfRange((j, n) => (seen[m.features[j]!] = n));
    expect(seen).toEqual({ mean_area: 2, mean_texture: 2 });
    m.drainOutOfRange(() => expect.unreachable());
  });
});

describe('quality metrics in the exposition', () => {
  it('reports scores, labels, PSI per feature and the baseline positive rate', async () => {
    const t = await makeTestApp({ quality: { windowRows: 400, minRows: 300 } });
    expect((await t.predict({ instances: rows.slice(0, 250) })).status).toBe(200);
    let s = await t.scrape();
    expect(samplesOf(s, 'model_feature_drift_psi')).toHaveLength(0); // window below minRows
    expect(sampleValue(s, 'model_drift_window_rows')).toBe(250);
    expect((await t.predict({ instances: rows.slice(250, 400) })).status).toBe(200);
    s = await t.scrape();
    const psis = samplesOf(s, 'model_feature_drift_psi');
    expect(psis.map((x) => x.labels.feature).sort()).toEqual([...features].sort());
    for (const p of psis) expect(p.value).toBeLessThan(0.1);
    expect(sampleValue(s, 'model_prediction_drift_psi')).toBeLessThan(0.1);
    expect(sampleValue(s, 'model_baseline_positive_rate', { version: '1.0.0' })).toBeCloseTo(0.37, 1);
    expect(sampleValue(s, 'api_prediction_score_count', { model_version: '1.0.0' })).toBe(400);
    const sum = sampleValue(s, 'api_prediction_score_sum', { model_version: '1.0.0' })!;
    expect(sum / 400).toBeGreaterThan(0.2);
    expect(sum / 400).toBeLessThan(0.6);
    for (const reason of ['unreadable', 'invalid_card', 'hash_mismatch', 'runtime_rejected', 'smoke_failed']) {
      expect(sampleValue(s, 'model_load_failures_total', { reason })).toBe(0);
    }
    await t.close();
  });
});

describe('model rollouts through the admin API', () => {
  const TOKEN = 'test-token-0123456789';
  const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

  /** A model folder with v1.0.0, v1.1.0, the broken release, and a corrupt file. */
  function modelDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'models-'));
    const src = dirname(MODEL_PATH);
    for (const stem of ['breast-cancer-v1.0.0', 'breast-cancer-v1.1.0', 'breast-cancer-v1.0.1-broken']) {
      copyFileSync(join(src, `${stem}.onnx`), join(dir, `${stem}.onnx`));
      copyFileSync(join(src, `${stem}.card.json`), join(dir, `${stem}.card.json`));
    }
    const bytes = readFileSync(join(src, 'breast-cancer-v1.1.0.onnx'));
    writeFileSync(join(dir, 'corrupt-v9.onnx'), bytes.subarray(0, bytes.length >> 1));
    copyFileSync(join(src, 'breast-cancer-v1.1.0.card.json'), join(dir, 'corrupt-v9.card.json'));
    return dir;
  }

  it('is absent without ADMIN_TOKEN, and needs the bearer token when present', async () => {
    const off = await makeTestApp();
    expect((await off.request('/admin/model', { method: 'POST', headers: auth, body: '{}' })).status).toBe(404);
    await off.close();
    const t = await makeTestApp({ adminToken: TOKEN, modelDir: modelDir() });
    const none = await t.request('/admin/model', { method: 'POST', body: JSON.stringify({ file: 'breast-cancer-v1.1.0.onnx' }) });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await t.request('/admin/model', { method: 'POST', headers: { ...auth, authorization: 'Bearer nope' }, body: '{}' });
    expect(wrong.status).toBe(401);
    expect(sampleValue(await t.scrape(), 'api_request_total', { method: 'POST', endpoint: '/admin/model', http_status: '401' })).toBe(2);
    expect(t.models.current!.version).toBe('1.0.0');
    await t.close();
  });

  it('swaps atomically under concurrent traffic: no failed request, model_info shows one version', async () => {
    const t = await makeTestApp({ adminToken: TOKEN, modelDir: modelDir() });
    const inflight = Array.from({ length: 300 }, (_, i) => t.predict({ features: rows[i % rows.length] }));
    const swap = t.request('/admin/model', { method: 'POST', headers: auth, body: JSON.stringify({ file: 'breast-cancer-v1.1.0.onnx' }) });
    const after = Array.from({ length: 100 }, (_, i) => t.predict({ features: rows[i] }));
    const swapRes = await swap;
    expect(swapRes.status).toBe(200);
    expect(await swapRes.json()).toMatchObject({ ok: true, previous: '1.0.0', version: '1.1.0' });
    const responses = await Promise.all([...inflight, ...after]);
    const versions = new Set<string>();
    for (const r of responses) {
      expect(r.status).toBe(200);
      versions.add(((await r.json()) as { model_version: string }).model_version);
    }
    for (const v of versions) expect(['1.0.0', '1.1.0']).toContain(v);
    const final = (await (await t.predict({ features: rows[0] })).json()) as { model_version: string };
    expect(final.model_version).toBe('1.1.0');
    const s = await t.scrape();
    expect(samplesOf(s, 'model_info')).toEqual([{ name: 'model_info', labels: { version: '1.1.0', name: 'breast-cancer' }, value: 1 }]);
    expect(samplesOf(s, 'model_baseline_positive_rate').map((x) => x.labels.version)).toEqual(['1.1.0']);
    await t.close();
  });

  it('refuses a corrupt model, counts it, and keeps serving the old one', async () => {
    const t = await makeTestApp({ adminToken: TOKEN, modelDir: modelDir() });
    const res = await t.request('/admin/model', { method: 'POST', headers: auth, body: JSON.stringify({ file: 'corrupt-v9.onnx' }) });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { error: { code: string; details: { reason: string; serving: string } } };
    expect(body.error.code).toBe('rollout_refused');
    expect(body.error.details).toEqual({ reason: 'hash_mismatch', serving: '1.0.0' });
    expect((await t.predict({ features: rows[0] })).status).toBe(200);
    const missing = await t.request('/admin/model', { method: 'POST', headers: auth, body: JSON.stringify({ file: 'nope.onnx' }) });
    expect(missing.status).toBe(404);
    const escape = await t.request('/admin/model', { method: 'POST', headers: auth, body: JSON.stringify({ file: '../package.json' }) });
    expect(escape.status).toBe(422);
    const s = await t.scrape();
    expect(sampleValue(s, 'model_load_failures_total', { reason: 'hash_mismatch' })).toBe(1);
    expect(sampleValue(s, 'model_load_failures_total', { reason: 'unreadable' })).toBe(1);
    expect(samplesOf(s, 'model_info').map((x) => x.labels.version)).toEqual(['1.0.0']);
    await t.close();
  });

  it('rolls out the broken release (it loads and answers 200) and back: every score 0.0 meanwhile', async () => {
    const t = await makeTestApp({ adminToken: TOKEN, modelDir: modelDir(), quality: { windowRows: 200, minRows: 100 } });
    const roll = (file: string) => t.request('/admin/model', { method: 'POST', headers: auth, body: JSON.stringify({ file }) });
    expect((await roll('breast-cancer-v1.0.1-broken.onnx')).status).toBe(200);
    const res = await t.predict({ instances: rows.slice(0, 200) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { predictions: Array<{ prediction: number; label: string }>; model_version: string };
    expect(body.model_version).toBe('1.0.1-broken');
    expect(new Set(body.predictions.map((p) => p.prediction))).toEqual(new Set([0]));
    let s = await t.scrape();
    expect(sampleValue(s, 'api_prediction_score_bucket', { model_version: '1.0.1-broken', le: '0.001' })).toBe(200);
    expect(sampleValue(s, 'api_prediction_total', { model_version: '1.0.1-broken', label: 'malignant' })).toBe(0);
    expect(sampleValue(s, 'model_prediction_drift_psi')).toBeGreaterThan(1);
    expect((await roll('breast-cancer-v1.0.0.onnx')).status).toBe(200);
    s = await t.scrape();
    expect(samplesOf(s, 'model_info').map((x) => x.labels.version)).toEqual(['1.0.0']);
    // A fresh window for the new version: no PSI until it fills again.
    expect(samplesOf(s, 'model_prediction_drift_psi')).toHaveLength(0);
    await t.close();
  });
});
