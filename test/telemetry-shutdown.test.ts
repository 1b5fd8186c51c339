/**
 * Shutdown loses no span: the SDK started as the preload starts it (its own process: vitest runs
 * each file in a fork, so the global providers set here stay here), the app traced through it.
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createNoopMeter, trace } from '@opentelemetry/api';
import { loadTelemetryConfig } from '../src/config.ts';
import { createApp } from '../src/app.ts';
import { ModelStore } from '../src/model/store.ts';
import { createServiceMetrics } from '../telemetry/metrics.ts';
import { startTelemetry } from '../telemetry/sdk.ts';
import { datasetRows, loadBundledModel } from './helpers/app.ts';
import { startOtlpSink, type OtlpSink } from './helpers/otlp-sink.ts';
import { exportedSpans, str } from './helpers/protobuf.ts';

let sink: OtlpSink;
beforeAll(async () => {
  sink = await startOtlpSink();
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await sink.close();
});

it('exports the span of a request answered in the turn shutdown starts in', async () => {
  // A schedule delay longer than the test: only shutdown's flush sends anything.
  // In process.env: the OTLP exporter reads its endpoint there itself, as upstream's does.
  const env = { OTEL_TRACES_EXPORTER: 'otlp', OTEL_METRICS_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_BSP_SCHEDULE_DELAY: '600000' };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  const telemetry = await startTelemetry(loadTelemetryConfig());
  expect(telemetry.tracing).toBe(true);
  const app = createApp({
    models: new ModelStore(await loadBundledModel()),
    metrics: createServiceMetrics(createNoopMeter(), { preaggregated: undefined }),
    isReady: () => true,
    tracer: trace.getTracer('inference-api'),
    renderMetrics: async () => '',
  });
  const res = await app.request('/predict', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features: datasetRows().rows[0] }) });
  expect(res.status).toBe(200);
  // No event-loop turn between the answer and shutdown, as when SIGTERM arrives right after it.
  await telemetry.shutdown();
  const spans = sink.requests.filter((r) => r.path === '/v1/traces').flatMap((r) => exportedSpans(r.body));
  expect(spans.map((s) => str(s, 5))).toEqual(['POST /predict']);
});
