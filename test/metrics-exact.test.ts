import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_SECONDS } from '../telemetry/instruments.ts';
import { sampleValue, samplesOf } from './helpers/exposition.ts';
import { datasetRows, makeTestApp } from './helpers/app.ts';

const { rows } = datasetRows();

describe('exact metric values after a known sequence of requests', () => {
  it('counts every request by method, route template and status, and every prediction', async () => {
    const t = await makeTestApp();
    const json = { 'content-type': 'application/json' };
    // 5 single rows, 2 batches of 10 and 7, 3 bad rows (422), 1 malformed (400),
    // 2 unmatched paths, 1 wrong method, 4 health checks, 1 ready check.
    for (let i = 0; i < 5; i++) expect((await t.predict({ features: rows[i] })).status).toBe(200);
    expect((await t.predict({ instances: rows.slice(0, 10) })).status).toBe(200);
    expect((await t.predict({ instances: rows.slice(10, 17) })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await t.predict({ features: [1, 2, 3] })).status).toBe(422);
    expect((await t.predict('{', json)).status).toBe(400);
    expect((await t.request('/admin')).status).toBe(404);
    expect((await t.request('/predict/1', { method: 'POST' })).status).toBe(404);
    expect((await t.request('/predict', { method: 'PUT' })).status).toBe(405);
    for (let i = 0; i < 4; i++) expect((await t.request('/health')).status).toBe(200);
    expect((await t.request('/ready')).status).toBe(200);

    const s = await t.scrape();
    const total = samplesOf(s, 'api_request_total');
    const byKey = Object.fromEntries(total.map((x) => [`${x.labels.method} ${x.labels.endpoint} ${x.labels.http_status}`, x.value]));
    expect(byKey).toEqual({
      'POST /predict 200': 7,
      'POST /predict 422': 3,
      'POST /predict 400': 1,
      'GET unmatched 404': 1,
      'POST unmatched 404': 1,
      'PUT /predict 405': 1,
      'GET /health 200': 4,
      'GET /ready 200': 1,
    });
    for (const x of total) expect(Object.keys(x.labels).sort()).toEqual(['endpoint', 'http_status', 'method']);

    // Labels as the model decides them, counted independently from the responses.
    const expected = { malignant: 0, benign: 0 };
    for (const r of [...rows.slice(0, 5), ...rows.slice(0, 10), ...rows.slice(10, 17)]) {
      const { label } = (await (await t.predict({ features: r })).json()) as { label: 'malignant' | 'benign' };
      expected[label]++;
    }
    const s2 = await t.scrape();
    // Each row was predicted twice: once above in the sequence, once just now.
    expect(sampleValue(s2, 'api_prediction_total', { model_version: '1.0.0', label: 'malignant' })).toBe(2 * expected.malignant);
    expect(sampleValue(s2, 'api_prediction_total', { model_version: '1.0.0', label: 'benign' })).toBe(2 * expected.benign);
    expect(expected.malignant + expected.benign).toBe(22);
    expect(samplesOf(s, 'api_prediction_total').reduce((a, x) => a + x.value, 0)).toBe(5 + 10 + 7);
    expect(samplesOf(s, 'api_prediction_total')).toHaveLength(2);
    // One score per row served.
    expect(sampleValue(s, 'api_prediction_score_count', { model_version: '1.0.0' })).toBe(22);

    // The histogram counts every request of a (method, endpoint), whatever the status.
    expect(sampleValue(s, 'api_request_duration_seconds_count', { method: 'POST', endpoint: '/predict' })).toBe(11);
    expect(sampleValue(s, 'api_request_duration_seconds_count', { method: 'GET', endpoint: '/health' })).toBe(4);
    const buckets = samplesOf(s, 'api_request_duration_seconds_bucket').filter((x) => x.labels.endpoint === '/predict' && x.labels.method === 'POST');
    expect(buckets.map((b) => b.labels.le)).toEqual([...LATENCY_BUCKETS_SECONDS.map(String), '+Inf']);
    expect(buckets.at(-1)!.value).toBe(11);
    // Cumulative buckets never decrease.
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    const sum = sampleValue(s, 'api_request_duration_seconds_sum', { method: 'POST', endpoint: '/predict' })!;
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(11 * 10);

    expect(samplesOf(s, 'model_info')).toEqual([{ name: 'model_info', labels: { version: '1.0.0', name: 'breast-cancer' }, value: 1 }]);
    await t.close();
  });
});
