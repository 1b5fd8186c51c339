import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetRows } from './helpers/app.ts';
import { startOtlpSink, type OtlpSink } from './helpers/otlp-sink.ts';
import { startService } from './helpers/service.ts';
import { exportedSpans, keyValues, messages, readMessage, str } from './helpers/protobuf.ts';

const { rows } = datasetRows();

interface JsonDataPoint {
  attributes?: Array<{ key: string; value: { stringValue?: string } }>;
  asInt?: string | number;
  asDouble?: number;
  count?: string | number;
}
interface JsonMetric {
  name: string;
  sum?: { dataPoints: JsonDataPoint[]; isMonotonic?: boolean };
  histogram?: { dataPoints: JsonDataPoint[] };
  gauge?: { dataPoints: JsonDataPoint[] };
}

/** Every metric in the JSON export requests the sink received, last export wins. */
function metricsOf(sink: OtlpSink): Map<string, JsonMetric> {
  const out = new Map<string, JsonMetric>();
  for (const r of sink.requests.filter((r) => r.path === '/v1/metrics')) {
    const doc = JSON.parse(r.body.toString());
    for (const rm of doc.resourceMetrics ?? []) for (const sm of rm.scopeMetrics ?? []) for (const m of sm.metrics ?? []) out.set(m.name, m);
  }
  return out;
}

const attrs = (p: JsonDataPoint) => Object.fromEntries((p.attributes ?? []).map((a) => [a.key, a.value.stringValue]));

let sink: OtlpSink;
beforeAll(async () => {
  sink = await startOtlpSink();
});
afterAll(() => sink.close());

describe('OTEL_METRICS_EXPORTER=otlp (push)', () => {
  it('pushes the same four metrics with their labels, and flushes them on shutdown', async () => {
    sink.requests.length = 0;
    const svc = await startService({
      env: {
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
        // Longer than the test: only the shutdown flush can deliver the data.
        OTEL_METRIC_EXPORT_INTERVAL: '600000',
      },
    });
    for (let i = 0; i < 3; i++) {
      await fetch(`${svc.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features: rows[i] }) });
    }
    await fetch(`${svc.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: rows.slice(0, 5) }) });
    // No scrape port on the push path.
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect(svc.scrapePort, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(false)));
      s.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    expect(sink.requests).toHaveLength(0);
    // The event-loop delay gauges report only with at least 5 samples (10 ms apart) in the
    // window; on a loaded CI machine the requests above can take less than that.
    await new Promise((r) => setTimeout(r, 200));
    expect(await svc.stop()).toBe(0);

    const m = metricsOf(sink);
    const requests = m.get('api_request_total')!;
    expect(requests.sum!.isMonotonic).toBe(true);
    const ok = requests.sum!.dataPoints.find((p) => attrs(p).endpoint === '/predict' && attrs(p).http_status === '200')!;
    expect(attrs(ok)).toEqual({ method: 'POST', endpoint: '/predict', http_status: '200' });
    expect(Number(ok.asInt ?? ok.asDouble)).toBe(4);
    const preds = m.get('api_prediction_total')!.sum!.dataPoints;
    expect(preds.map(attrs).sort((a, b) => String(a.label).localeCompare(String(b.label)))).toEqual([
      { model_version: '1.0.0', label: 'benign' },
      { model_version: '1.0.0', label: 'malignant' },
    ]);
    expect(preds.reduce((a, p) => a + Number(p.asInt ?? p.asDouble), 0)).toBe(8);
    const hist = m.get('api_request_duration_seconds')!.histogram!.dataPoints.find((p) => attrs(p).endpoint === '/predict')!;
    expect(Number(hist.count)).toBe(4);
    const info = m.get('model_info')!.gauge!.dataPoints;
    expect(info.map(attrs)).toEqual([{ version: '1.0.0', name: 'breast-cancer' }]);
    expect(m.has('nodejs_eventloop_delay_p99') || m.has('nodejs.eventloop.delay.p99')).toBe(true);
  });

  it('speaks http/protobuf by default, and sends traces there when OTEL_TRACES_EXPORTER=otlp', async () => {
    sink.requests.length = 0;
    const svc = await startService({
      env: { OTEL_METRICS_EXPORTER: 'otlp', OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_METRIC_EXPORT_INTERVAL: '600000' },
    });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const headers = { 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01` };
    await fetch(`${svc.url}/predict`, { method: 'POST', headers, body: JSON.stringify({ features: rows[0] }) });
    expect(await svc.stop()).toBe(0);
    const metricsReq = sink.requests.filter((r) => r.path === '/v1/metrics');
    const tracesReq = sink.requests.filter((r) => r.path === '/v1/traces');
    expect(metricsReq.length).toBeGreaterThan(0);
    expect(metricsReq[0]!.contentType).toBe('application/x-protobuf');
    expect(metricsReq.some((r) => r.body.includes('api_prediction_total'))).toBe(true);
    expect(tracesReq.length).toBeGreaterThan(0);
    expect(tracesReq[0]!.contentType).toBe('application/x-protobuf');
    // Read field by field (ExportTraceServiceRequest → ResourceSpans → ScopeSpans → Span).
    const resourceSpans = tracesReq.flatMap((r) => messages(readMessage(r.body), 1));
    expect(keyValues(messages(resourceSpans[0]!, 1)[0]!, 1)).toMatchObject({ 'service.name': 'inference-api', 'service.version': expect.any(String), 'service.instance.id': expect.any(String) });
    const scopeSpans = resourceSpans.flatMap((rs) => messages(rs, 2));
    expect(str(messages(scopeSpans[0]!, 1)[0]!, 1)).toBe('inference-api');
    const spans = scopeSpans.flatMap((ss) => messages(ss, 2));
    expect(spans).toHaveLength(1);
    const span = spans[0]!;
    expect((span.get(1)![0] as Buffer).toString('hex')).toBe(traceId);
    expect((span.get(4)![0] as Buffer).toString('hex')).toBe('00f067aa0ba902b7');
    expect(str(span, 5)).toBe('POST /predict');
    expect(span.get(6)![0]).toBe(2n); // SERVER
    expect(keyValues(span, 9)).toEqual({ 'http.request.method': 'POST', 'url.path': '/predict', 'url.scheme': 'http', 'http.route': '/predict', 'http.response.status_code': 200 });
    const [start, end] = [span.get(7)![0] as Buffer, span.get(8)![0] as Buffer].map((b) => b.readBigUInt64LE());
    expect(end! - start!).toBeGreaterThan(0n);
    expect(Math.abs(Number(start! / 1_000_000n) - Date.now())).toBeLessThan(60_000);
    expect(span.get(16)![0]).toBe(0x301); // sampled, parent remote
  });

  it('batches spans as OTEL_BSP_* say', async () => {
    sink.requests.length = 0;
    // Batches of 2, and a timer that never fires in the test: only full batches are sent before shutdown.
    const svc = await startService({
      env: { OTEL_METRICS_EXPORTER: 'none', OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2', OTEL_BSP_SCHEDULE_DELAY: '600000' },
    });
    const spansIn = (r: { body: Buffer }) => exportedSpans(r.body).length;
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${svc.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features: rows[i] }) });
      expect(res.status).toBe(200);
    }
    const traces = () => sink.requests.filter((r) => r.path === '/v1/traces');
    for (let waited = 0; traces().length < 2 && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(traces().map(spansIn)).toEqual([2, 2]);
    expect(await svc.stop()).toBe(0);
    // The fifth span went at shutdown.
    expect(traces().map(spansIn)).toEqual([2, 2, 1]);
  });
});
