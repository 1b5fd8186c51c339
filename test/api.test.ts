import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleValue, samplesOf } from './helpers/exposition.ts';
import { datasetRows, makeTestApp, type JsonResponse } from './helpers/app.ts';

type TestApp = Awaited<ReturnType<typeof makeTestApp>>;
const { rows, features, labels } = datasetRows();
const named = (row: number[]) => Object.fromEntries(features.map((f, i) => [f, row[i]]));

let t: TestApp;
beforeAll(async () => {
  t = await makeTestApp({ maxBodyBytes: 4096, maxBatch: 8 });
});
afterAll(() => t.close());

/** The requests counter for one label set, read from the exposition. */
async function requests(method: string, endpoint: string, status: number) {
  return sampleValue(await t.scrape(), 'api_request_total', { method, endpoint, http_status: String(status) }) ?? 0;
}

describe('POST /predict', () => {
  it('predicts one row given by name, with probability, label and version', async () => {
    const res = await t.predict({ features: named(rows[0]!) });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.model_version).toBe('1.0.0');
    expect(body.prediction).toBeGreaterThan(0.5);
    expect(body.label).toBe('malignant');
  });

  it('gives the same answer for the row as an array in card order', async () => {
    const byName = await (await t.predict({ features: named(rows[19]!) })).json();
    const byOrder = await (await t.predict({ features: rows[19] })).json();
    expect(byOrder).toEqual(byName);
    expect(labels[19]).toBe(0);
    expect(byOrder.label).toBe('benign');
  });

  it('predicts a batch in one call, in order, each matching the single-row answer', async () => {
    const batch = [rows[0]!, rows[19]!, rows[1]!];
    const res = await t.predict({ instances: [{ features: named(batch[0]!) }, batch[1], { features: batch[2] }] });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.model_version).toBe('1.0.0');
    expect(body.predictions).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      const single = await (await t.predict({ features: batch[i] })).json();
      expect(body.predictions[i]).toEqual({ prediction: single.prediction, label: single.label });
    }
  });
});

describe('named rows in any key order', () => {
  const inOrder = (row: number[], order: number[]) => Object.fromEntries(order.map((j) => [features[j]!, row[j]]));
  const card = features.map((_, j) => j);
  const reversed = [...card].reverse();
  const rotated = [...card.slice(7), ...card.slice(0, 7)];

  it('reads each row by its names, whatever order the rows before it used', async () => {
    const picks = [rows[0]!, rows[19]!, rows[1]!, rows[2]!];
    const res = await t.predict({
      // Two rows in one order (the second read by the first's), then two others.
      instances: [inOrder(picks[0]!, reversed), inOrder(picks[1]!, reversed), inOrder(picks[2]!, rotated), inOrder(picks[3]!, card)],
    });
    expect(res.status).toBe(200);
    const { predictions } = await res.json();
    const expected = (await (await t.predict({ instances: picks })).json()).predictions;
    expect(predictions).toEqual(expected);
  });

  it('still names an unknown or missing feature in a row that follows the order of the one before', async () => {
    const renamed = inOrder(rows[1]!, card);
    delete renamed[features[5]!];
    const unknown = await t.predict({ instances: [inOrder(rows[0]!, card), { ...renamed, colour: 1 }] });
    expect(unknown.status).toBe(422);
    expect((await unknown.json()).error).toMatchObject({ code: 'unknown_feature', details: { row: 1, field: 'colour' } });
    const missing = await t.predict({ instances: [inOrder(rows[0]!, card), renamed] });
    expect((await missing.json()).error).toMatchObject({ code: 'missing_features', details: { row: 1, field: features[5] } });
  });
});

describe('bad input: a clear JSON error with the right status, counted in the metrics', () => {
  const full = () => named(rows[0]!);
  const cases: Array<{ name: string; status: number; code: string; send: () => Promise<JsonResponse>; detail?: Record<string, unknown> }> = [
    { name: 'malformed JSON', status: 400, code: 'malformed_json', send: () => t.predict('{"features": [1, 2') },
    { name: 'not JSON content type', status: 415, code: 'unsupported_media_type', send: () => t.predict('a=1', { 'content-type': 'application/x-www-form-urlencoded' }) },
    { name: 'no content type', status: 415, code: 'unsupported_media_type', send: () => t.predict('{}', {}) },
    { name: 'body over MAX_BODY_BYTES', status: 413, code: 'payload_too_large', send: () => t.predict({ instances: Array(8).fill({ features: full() }) }) },
    { name: 'missing feature', status: 422, code: 'missing_features', detail: { field: 'mean_radius' }, send: () => { const f = full(); delete f.mean_radius; return t.predict({ features: f }); } },
    { name: 'unknown feature', status: 422, code: 'unknown_feature', detail: { field: 'colour' }, send: () => t.predict({ features: { ...full(), colour: 1 } }) },
    { name: 'duplicated feature', status: 422, code: 'duplicate_key', detail: { field: 'mean_radius' }, send: () => t.predict(JSON.stringify({ features: full() }).replace('{"mean_radius"', '{"mean_radius":1,"mean_radius"')) },
    { name: 'duplicated feature in a batch row', status: 422, code: 'duplicate_key', detail: { field: 'mean_area', row: 1 }, send: () => t.predict(`{"instances":[${JSON.stringify(rows[0])},{"features":${JSON.stringify(full()).replace('"mean_area"', '"mean_area":1,"mean_area"')}}]}`) },
    { name: 'wrong count', status: 422, code: 'wrong_feature_count', detail: { expected: 30, got: 29 }, send: () => t.predict({ features: rows[0]!.slice(1) }) },
    { name: 'string value', status: 422, code: 'invalid_value', detail: { field: 'mean_texture' }, send: () => t.predict({ features: { ...full(), mean_texture: '10' } }) },
    { name: 'null value in an array row', status: 422, code: 'invalid_value', detail: { field: 'mean_radius', index: 0 }, send: () => t.predict({ features: [null, ...rows[0]!.slice(1)] }) },
    { name: 'non-finite value (1e999)', status: 422, code: 'invalid_value', detail: { field: 'mean_radius' }, send: () => t.predict(JSON.stringify({ features: full() }).replace(/"mean_radius":[^,]+/, '"mean_radius":1e999')) },
    { name: 'batch too large', status: 422, code: 'batch_too_large', detail: { max: 8, got: 9 }, send: () => t.predict({ instances: Array(9).fill([1]) }) },
    { name: 'empty batch', status: 422, code: 'empty_batch', send: () => t.predict({ instances: [] }) },
    { name: 'bad row in a batch', status: 422, code: 'wrong_feature_count', detail: { row: 2 }, send: () => t.predict({ instances: [rows[0], rows[1], [1, 2]] }) },
    { name: 'neither features nor instances', status: 422, code: 'invalid_body', send: () => t.predict({ rows: [] }) },
    { name: 'a JSON array body', status: 422, code: 'invalid_body', send: () => t.predict([1, 2]) },
  ];

  for (const c of cases) {
    it(`${c.name}: ${c.status} ${c.code}`, async () => {
      const before = await requests('POST', '/predict', c.status);
      const res = await c.send();
      expect(res.status).toBe(c.status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const body = await res.json();
      expect(body.error.code).toBe(c.code);
      expect(typeof body.error.message).toBe('string');
      expect(body.error.message.length).toBeGreaterThan(10);
      expect(body.error).toHaveProperty('details');
      if (c.detail) expect(body.error.details).toMatchObject(c.detail);
      expect(await requests('POST', '/predict', c.status)).toBe(before + 1);
    });
  }

  it('unknown route: 404, counted as endpoint="unmatched" whatever the path', async () => {
    const before = await requests('GET', 'unmatched', 404);
    for (const path of ['/wp-admin', '/predict/extra', '/.env', '/a/b/c?x=1']) {
      const res = await t.request(path);
      expect(res.status).toBe(404);
      expect((await res.json()).error.code).toBe('not_found');
    }
    expect(await requests('GET', 'unmatched', 404)).toBe(before + 4);
    const endpoints = new Set(samplesOf(await t.scrape(), 'api_request_total').map((s) => s.labels.endpoint));
    for (const e of endpoints) expect(['/predict', '/model', '/health', '/ready', '/metrics', 'unmatched']).toContain(e);
  });

  it('wrong method: 405 with Allow, counted on the route template', async () => {
    const res = await t.request('/predict', { method: 'GET' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect((await res.json()).error.code).toBe('method_not_allowed');
    const put = await t.request('/health', { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(await requests('GET', '/predict', 405)).toBe(1);
    expect(await requests('PUT', '/health', 405)).toBe(1);
  });

  it('a non-standard method is labelled OTHER', async () => {
    const res = await t.request('/health', { method: 'PURGE' });
    expect(res.status).toBe(405);
    expect(await requests('OTHER', '/health', 405)).toBe(1);
  });
});

describe('GET endpoints', () => {
  it('/model returns the card without the per-feature baselines', async () => {
    const res = await t.request('/model');
    expect(res.status).toBe(200);
    const card = await res.json();
    expect(card.version).toBe('1.0.0');
    expect(card.input.features).toHaveLength(30);
    expect(card.metrics.heldout_roc_auc).toBeGreaterThanOrEqual(0.97);
    expect(typeof card.baseline.features).toBe('string');
    expect(card.baseline.score.deciles).toHaveLength(9);
  });

  it('/health is always 200; /ready follows readiness', async () => {
    expect((await t.request('/health')).status).toBe(200);
    expect((await t.request('/ready')).status).toBe(200);
    t.state.ready = false;
    expect((await t.request('/ready')).status).toBe(503);
    expect((await t.request('/health')).status).toBe(200);
    t.state.ready = true;
    expect((await t.request('/ready')).status).toBe(200);
  });

  it('/metrics serves the Prometheus text format', async () => {
    const res = await t.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    expect(text).toContain('# TYPE api_request_total counter');
    expect(text).toContain('# TYPE api_request_duration_seconds histogram');
    expect(text).toMatch(/^model_info\{version="1.0.0",name="breast-cancer"\} 1$/m);
  });
});

describe('an unexpected error', () => {
  it('is a 500 with no stack trace, counted', async () => {
    const local = await makeTestApp();
    // A model whose runtime throws: the kind of fault that is ours, not the client's.
    const model = local.models.current!;
    local.models.swap({ ...model, predict: async () => { throw new Error('native crash at /secret/path.cc:42'); } });
    const res = await local.predict({ features: rows[0] });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: { code: 'internal_error', message: 'an internal error occurred', details: {} } });
    expect(text).not.toContain('secret');
    expect(sampleValue(await local.scrape(), 'api_request_total', { method: 'POST', endpoint: '/predict', http_status: '500' })).toBe(1);
    await local.close();
  });
});
