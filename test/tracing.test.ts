import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { propagation, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { createApp } from '../src/app.ts';
import { ModelStore } from '../src/model/store.ts';
import { createServiceMetrics } from '../telemetry/metrics.ts';
import { createNoopMeter } from '@opentelemetry/api';
import { SPAN_BATCH_DELAY_MS } from '../telemetry/span-batch.ts';
import { datasetRows, loadBundledModel } from './helpers/app.ts';

/** Spans are made in a batch SPAN_BATCH_DELAY_MS after the first answer: wait for it. */
const turn = () => new Promise((resolve) => setTimeout(resolve, SPAN_BATCH_DELAY_MS));

describe('request tracing middleware', () => {
  const exporter = new InMemorySpanExporter();
  const finished = async () => {
    await turn();
    return exporter.getFinishedSpans();
  };
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let app: ReturnType<typeof createApp>;
  let row: number[];

  beforeAll(async () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const models = new ModelStore(await loadBundledModel());
    row = datasetRows().rows[0]!;
    app = createApp({
      models,
      metrics: createServiceMetrics(createNoopMeter(), { preaggregated: undefined }),
      isReady: () => true,
      tracer: provider.getTracer('test'),
      renderMetrics: async () => '',
    });
  });
  afterAll(async () => {
    propagation.disable();
    await provider.shutdown();
  });

  it('makes one SERVER span per request, named by route, joined to the caller trace', async () => {
    exporter.reset();
    const res = await app.request('/predict', {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      body: JSON.stringify({ features: row }),
    });
    expect(res.status).toBe(200);
    const [span, ...rest] = await finished();
    expect(rest).toHaveLength(0);
    expect(span!.name).toBe('POST /predict');
    expect(span!.kind).toBe(SpanKind.SERVER);
    expect(span!.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(span!.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/predict',
      'url.path': '/predict',
      'http.response.status_code': 200,
    });
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('a client error keeps the span OK (4xx is the client side of the contract); no route, no http.route', async () => {
    exporter.reset();
    await app.request('/predict', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    await app.request('/no/such/path/123');
    const [bad, unknown] = await finished();
    expect(bad!.attributes['http.response.status_code']).toBe(415);
    expect(bad!.status.code).toBe(SpanStatusCode.UNSET);
    // No route template: the span is named by the method alone and never carries the raw path as a name.
    expect(unknown!.name).toBe('GET');
    expect(unknown!.attributes['http.route']).toBeUndefined();
    expect(unknown!.attributes['http.response.status_code']).toBe(404);
  });

  it('marks a 5xx as an error', async () => {
    exporter.reset();
    const empty = createApp({
      models: new ModelStore(),
      metrics: createServiceMetrics(createNoopMeter(), { preaggregated: undefined }),
      isReady: () => false,
      tracer: provider.getTracer('test'),
    });
    const res = await empty.request('/model');
    expect(res.status).toBe(503);
    const [span] = await finished();
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes['error.type']).toBe('503');
  });

  it('never traces probes and scrapes', async () => {
    exporter.reset();
    for (const p of ['/health', '/ready', '/metrics']) expect((await app.request(p)).status).toBe(200);
    expect(await finished()).toHaveLength(0);
  });

  it('a span that cannot be made costs that span, not the process or the next spans', async () => {
    const throwing = new TracerProvider({
      spanProcessors: [
        {
          onStart: () => {},
          onEnd: (span) => {
            if (span.attributes['http.response.status_code'] === 415) throw new Error('processor bug');
            exporter.export([span], () => {});
          },
          forceFlush: async () => {},
          shutdown: async () => {},
        },
      ],
    });
    const fragile = createApp({
      models: new ModelStore(await loadBundledModel()),
      metrics: createServiceMetrics(createNoopMeter(), { preaggregated: undefined }),
      isReady: () => true,
      tracer: throwing.getTracer('test'),
    });
    exporter.reset();
    const answers = await Promise.all([
      fragile.request('/predict', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }),
      fragile.request('/model'),
    ]);
    expect(answers.map((r) => r.status)).toEqual([415, 200]);
    const spans = await finished();
    expect(spans.map((s) => s.name)).toEqual(['GET /model']);
  });

  it('spans made together keep each request its own times and its own parent', async () => {
    exporter.reset();
    const parents = ['00f067aa0ba902b7', 'b7ad6b7169203331', undefined];
    const before = Date.now();
    const answers = await Promise.all(
      parents.map((parent, i) =>
        app.request('/predict', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(parent ? { traceparent: `00-${String(i + 1).repeat(32)}-${parent}-01` } : {}) },
          body: JSON.stringify({ features: row }),
        }),
      ),
    );
    const after = Date.now();
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    const spans = await finished();
    expect(spans).toHaveLength(3);
    const byParent = new Map(spans.map((s) => [s.parentSpanContext?.spanId, s]));
    expect(byParent.get('00f067aa0ba902b7')!.spanContext().traceId).toBe('1'.repeat(32));
    expect(byParent.get('b7ad6b7169203331')!.spanContext().traceId).toBe('2'.repeat(32));
    // The third had no traceparent: a new trace, no parent.
    const root = byParent.get(undefined)!;
    expect(root.spanContext().traceId).not.toMatch(/^[12]+$/);
    expect(new Set(spans.map((s) => s.spanContext().spanId)).size).toBe(3);
    for (const s of spans) {
      const startMs = s.startTime[0] * 1000 + s.startTime[1] / 1e6;
      const endMs = s.endTime[0] * 1000 + s.endTime[1] / 1e6;
      // The request's own times (made later, but not stamped later): within the test's window, and a prediction takes time.
      expect(startMs).toBeGreaterThanOrEqual(before - 1);
      expect(endMs).toBeLessThanOrEqual(after + 1);
      expect(endMs).toBeGreaterThan(startMs);
    }
  });
});
