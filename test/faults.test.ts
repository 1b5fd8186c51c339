import { createNoopMeter } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { createServiceMetrics } from '../telemetry/metrics.ts';
import { createApp } from '../src/app.ts';
import { createFaultInjector } from '../src/http/faults.ts';
import { ModelStore } from '../src/model/store.ts';
import { sampleValue } from './helpers/exposition.ts';
import { datasetRows, loadBundledModel, makeTestApp } from './helpers/app.ts';

const { rows } = datasetRows();

describe('fault injection', () => {
  it('does not exist in a default app: /admin/faults is an unmatched 404', async () => {
    const t = await makeTestApp();
    const res = await t.request('/admin/faults', { method: 'PUT', body: '{"error_ratio":1}' });
    expect(res.status).toBe(404);
    expect(sampleValue(await t.scrape(), 'api_request_total', { method: 'PUT', endpoint: 'unmatched', http_status: '404' })).toBe(1);
    await t.close();
  });

  it('when enabled, injects 5xx and latency into /predict only, and can be cleared', async () => {
    const faults = createFaultInjector();
    const model = await loadBundledModel();
    const app = createApp({ models: new ModelStore(model), metrics: createServiceMetrics(createNoopMeter(), { preaggregated: undefined }), isReady: () => true, faults });
    const put = (body: unknown) => app.request('/admin/faults', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const predict = () => app.request('/predict', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features: rows[0] }) });

    expect((await predict()).status).toBe(200);
    expect((await put({ error_ratio: 1, error_status: 503 })).status).toBe(200);
    const failed = await predict();
    expect(failed.status).toBe(503);
    expect(((await failed.json()) as { error: { code: string } }).error.code).toBe('injected_fault');
    expect((await app.request('/health')).status).toBe(200);

    expect((await put({ error_ratio: 0, latency_ms: 120, latency_ratio: 1 })).status).toBe(200);
    const started = performance.now();
    expect((await predict()).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(110);

    expect((await put({ error_ratio: 2 })).status).toBe(422);
    expect((await put({ bogus: 1 })).status).toBe(422);
    expect((await app.request('/admin/faults', { method: 'DELETE' })).status).toBe(200);
    expect(faults.settings.latencyRatio).toBe(0);
  });

  it('applies errors to the configured share of requests', async () => {
    let i = 0;
    const seq = [0.1, 0.3, 0.5, 0.7, 0.9];
    const faults = createFaultInjector({ random: () => seq[i++ % seq.length]! });
    faults.set({ errorRatio: 0.4 });
    const app = createApp({ models: new ModelStore(await loadBundledModel()), metrics: createServiceMetrics(createNoopMeter(), { preaggregated: undefined }), isReady: () => true, faults });
    const statuses: number[] = [];
    for (let k = 0; k < 5; k++) {
      statuses.push((await app.request('/predict', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features: rows[0] }) })).status);
    }
    expect(statuses).toEqual([500, 500, 200, 200, 200]);
  });
});
