import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSTRUMENTS, RUNTIME_METRICS, seriesNames } from '../telemetry/instruments.ts';
import { datasetRows } from './helpers/app.ts';
import { parseExposition, sampleValue, samplesOf } from './helpers/exposition.ts';
import { startService, type RunningService } from './helpers/service.ts';
import { toolPath } from './helpers/tools.ts';

const { rows } = datasetRows();
const post = (svc: RunningService, body: unknown) =>
  fetch(`${svc.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** Waits until nothing accepts TCP connections on `port`. */
async function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('error', () => resolve(true));
  });
}

describe('the service started as npm start does (default: Prometheus exporter)', () => {
  let svc: RunningService;
  beforeAll(async () => {
    svc = await startService();
  });
  afterAll(async () => {
    await svc.stop();
  });

  it('serves predictions and shows identical metrics on the API port and the scrape port', async () => {
    for (let i = 0; i < 3; i++) expect((await post(svc, { features: rows[i] })).status).toBe(200);
    expect((await post(svc, { instances: rows.slice(0, 4) })).status).toBe(200);
    expect((await post(svc, { features: [1] })).status).toBe(422);
    expect((await fetch(`${svc.url}/nope`)).status).toBe(404);

    const api = parseExposition(await (await fetch(`${svc.url}/metrics`)).text());
    const scrape = parseExposition(await (await fetch(`http://127.0.0.1:${svc.scrapePort}/metrics`)).text());
    for (const s of [api, scrape]) {
      expect(sampleValue(s, 'api_request_total', { method: 'POST', endpoint: '/predict', http_status: '200' })).toBe(4);
      expect(sampleValue(s, 'api_request_total', { method: 'POST', endpoint: '/predict', http_status: '422' })).toBe(1);
      expect(sampleValue(s, 'api_request_total', { method: 'GET', endpoint: 'unmatched', http_status: '404' })).toBe(1);
      expect(samplesOf(s, 'api_prediction_total').reduce((a, x) => a + x.value, 0)).toBe(7);
      expect(sampleValue(s, 'api_prediction_score_count', { model_version: '1.0.0' })).toBe(7);
      expect(sampleValue(s, 'api_request_duration_seconds_count', { method: 'POST', endpoint: '/predict' })).toBe(5);
      expect(sampleValue(s, 'model_info', { version: '1.0.0' })).toBe(1);
      const target = samplesOf(s, 'target_info')[0]!;
      expect(target.labels.service_name).toBe('inference-api');
    }
    // The API port's own scrape counts itself only after it is rendered.
    expect(sampleValue(scrape, 'api_request_total', { method: 'GET', endpoint: '/metrics', http_status: '200' })).toBe(1);
  });

  it('times GCs with the native addon that npm ci built, not with a PerformanceObserver', async () => {
    const lines = svc.stdout().trim().split('\n').flatMap((l) => (l.startsWith('{') ? [JSON.parse(l)] : []));
    // A missing or unloadable addon is a failure here (it would say performance_observer).
    expect(lines.find((l) => l.msg === 'listening')?.gc_durations).toBe('native');
    // The same for the prediction body reader (src/model/native/row_parser.cc).
    expect(lines.find((l) => l.msg === 'listening')?.body_reader).toBe('native');
    const gc = parseExposition(await (await fetch(`http://127.0.0.1:${svc.scrapePort}/metrics`)).text());
    const minor = samplesOf(gc, 'v8js_gc_duration_count').find((s) => s.labels.v8js_gc_type === 'minor');
    // Start-up alone (model load, the render warm-up) makes scavenges.
    expect(minor?.value).toBeGreaterThan(0);
  });

  it('warms the metrics render up before it reports ready, without counting a scrape', () => {
    const lines = svc.stdout().trim().split('\n').flatMap((l) => (l.startsWith('{') ? [JSON.parse(l)] : []));
    const warm = lines.findIndex((l) => l.msg === 'metrics render warmed up');
    expect(warm).toBeGreaterThanOrEqual(0);
    // 1,000 renders (METRICS_WARMUP_RENDERS' default), or as many as fit in the 2 s cap.
    const { renders, ms } = lines[warm];
    expect(renders === 1000 || (renders > 0 && ms >= 2000)).toBe(true);
    expect(lines.findIndex((l) => l.msg === 'model loaded')).toBeGreaterThan(warm);
  });

  it('exposes every instrument of the table and every listed runtime metric', async () => {
    // Enough rows for the drift window to report (MODEL_DRIFT_MIN_ROWS, 200), one out of range.
    expect((await post(svc, { instances: rows.slice(0, 250) })).status).toBe(200);
    expect((await post(svc, { features: [1e6, ...rows[0]!.slice(1)] })).status).toBe(200);
    // Event-loop delay gauges report only with at least 5 samples (10 ms apart) since the last
    // collection; the previous test scraped a moment ago.
    await new Promise((r) => setTimeout(r, 200));
    const names = new Set(parseExposition(await (await fetch(`http://127.0.0.1:${svc.scrapePort}/metrics`)).text()).map((s) => s.name));
    for (const spec of Object.values(INSTRUMENTS)) for (const n of seriesNames(spec)) expect(names).toContain(n);
    for (const m of RUNTIME_METRICS) {
      const n = m.type === 'histogram' ? `${m.name}_count` : m.name;
      expect(names, `runtime metric ${n}`).toContain(n);
    }
  });

  it('passes promtool check metrics on both ports, each with its render time in Server-Timing', async () => {
    const promtool = toolPath('promtool');
    for (const url of [`${svc.url}/metrics`, `http://127.0.0.1:${svc.scrapePort}/metrics`]) {
      const res = await fetch(url);
      // Both ports say how long the render took (the benchmark reads it), in the exposition's type.
      expect(res.headers.get('server-timing'), url).toMatch(/^render;dur=\d+\.\d{3}$/);
      expect(res.headers.get('content-type'), url).toBe('text/plain; version=0.0.4; charset=utf-8');
      const text = await res.text();
      const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
  });
});

describe('exporter selection by OTEL_* variables', () => {
  it('OTEL_METRICS_EXPORTER=none: nothing listens on the scrape port, the API serves, /metrics is 404', async () => {
    const svc = await startService({ env: { OTEL_METRICS_EXPORTER: 'none' } });
    try {
      expect((await post(svc, { features: rows[0] })).status).toBe(200);
      expect(await refused(svc.scrapePort)).toBe(true);
      const res = await fetch(`${svc.url}/metrics`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('metrics_disabled');
      // No Prometheus render, so nothing to warm up.
      expect(svc.stdout()).not.toContain('metrics render warmed up');
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('OTEL_SDK_DISABLED=true: no scrape port, the API still serves', async () => {
    const svc = await startService({ env: { OTEL_SDK_DISABLED: 'true' } });
    try {
      expect((await post(svc, { features: rows[0] })).status).toBe(200);
      expect(await refused(svc.scrapePort)).toBe(true);
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('OTEL_METRICS_EXPORTER=console: the metrics are printed on stdout, no scrape port', async () => {
    const svc = await startService({ env: { OTEL_METRICS_EXPORTER: 'console', OTEL_METRIC_EXPORT_INTERVAL: '300' } });
    try {
      expect((await post(svc, { features: rows[0] })).status).toBe(200);
      expect(await refused(svc.scrapePort)).toBe(true);
      const deadline = Date.now() + 10_000;
      while (!svc.stdout().includes("name: 'api_prediction_total'") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(svc.stdout()).toContain("name: 'api_request_total'");
      expect(svc.stdout()).toContain("name: 'api_prediction_total'");
      expect(svc.stdout()).toContain("name: 'api_request_duration_seconds'");
    } finally {
      expect(await svc.stop()).toBe(0);
    }
  });

  it('OTEL_METRICS_EXPORTER=prometheus,console: both at once', async () => {
    const svc = await startService({ env: { OTEL_METRICS_EXPORTER: 'prometheus,console', OTEL_METRIC_EXPORT_INTERVAL: '300' } });
    try {
      expect((await post(svc, { features: rows[0] })).status).toBe(200);
      const scrape = parseExposition(await (await fetch(`http://127.0.0.1:${svc.scrapePort}/metrics`)).text());
      expect(samplesOf(scrape, 'api_prediction_total').reduce((a, x) => a + x.value, 0)).toBe(1);
      const deadline = Date.now() + 10_000;
      while (!svc.stdout().includes("name: 'api_prediction_total'") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(svc.stdout()).toContain("name: 'api_prediction_total'");
    } finally {
      await svc.stop();
    }
  });

  it('an invalid value stops start-up with a message naming the variable and the expected form', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ OTEL_METRICS_EXPORTER: 'prometheus,zipkin' }, /OTEL_METRICS_EXPORTER="prometheus,zipkin": expected a comma-separated list of prometheus, otlp, console, none/],
      [{ PORT: 'eighty' }, /PORT="eighty": expected an integer from 0 to 65535/],
      [{ MAX_BATCH: '0' }, /MAX_BATCH="0": expected an integer from 1 to 100000/],
      [{ OTEL_SDK_DISABLED: 'yes' }, /OTEL_SDK_DISABLED="yes": expected true or false/],
      [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'udp' }, /OTEL_EXPORTER_OTLP_PROTOCOL="udp": expected one of http\/protobuf, http\/json, grpc/],
    ];
    for (const [env, message] of cases) {
      const r = spawnSync(process.execPath, ['--import', './telemetry/register.ts', 'src/server.ts'], {
        cwd: process.cwd(),
        env: { PATH: process.env.PATH, PORT: '0', OTEL_EXPORTER_PROMETHEUS_PORT: '0', ...env },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(r.status, JSON.stringify(env)).toBe(1);
      expect(r.stderr).toMatch(message);
    }
  });

  it('a model that cannot be loaded stops start-up with exit 1 and says why', () => {
    const r = spawnSync(process.execPath, ['--import', './telemetry/register.ts', 'src/server.ts'], {
      env: { PATH: process.env.PATH, PORT: '0', OTEL_METRICS_EXPORTER: 'none', MODEL_PATH: '/nonexistent/model.onnx' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('model failed to load');
  });
});

describe('traces (OTEL_TRACES_EXPORTER)', () => {
  it('off by default: no spans printed, no connection attempts', async () => {
    const svc = await startService({ env: { OTEL_LOG_LEVEL: 'debug' } });
    await post(svc, { features: rows[0] });
    await svc.stop();
    expect(svc.stdout()).not.toMatch(/traceId/);
    expect(svc.stdout() + svc.stderr()).not.toMatch(/ECONNREFUSED|4318|4317/);
  });

  it('console: /predict is traced with a span per request, /health, /ready and /metrics never', async () => {
    const svc = await startService({ env: { OTEL_TRACES_EXPORTER: 'console', OTEL_BSP_SCHEDULE_DELAY: '100' } });
    for (const p of ['/health', '/ready', '/metrics', '/metrics?x=1']) await fetch(`${svc.url}${p}`);
    const res = await fetch(`${svc.url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      body: JSON.stringify({ features: rows[0] }),
    });
    expect(res.status).toBe(200);
    expect(await svc.stop()).toBe(0);
    const out = svc.stdout();
    // The span joined the caller's trace (W3C propagation) and names the route.
    expect(out).toContain("traceId: '0af7651916cd43dd8448eb211c80319c'");
    expect(out).toContain("name: 'POST /predict'");
    expect(out).toContain("'http.route': '/predict'");
    expect(out).not.toMatch(/'url\.path': '\/(health|ready|metrics)'/);
  });
});

describe('HTTP server timeouts', () => {
  it('drops a client that never finishes its headers (HTTP_HEADERS_TIMEOUT_MS)', async () => {
    const svc = await startService({ env: { HTTP_HEADERS_TIMEOUT_MS: '500', OTEL_METRICS_EXPORTER: 'none' } });
    try {
      const sock = connect(svc.port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      const started = Date.now();
      let reply = '';
      sock.on('data', (d) => (reply += d.toString()));
      sock.write('GET /health HTTP/1.1\r\nHost: x\r\n');
      await new Promise((r) => sock.once('close', r));
      const elapsed = Date.now() - started;
      expect(reply).toMatch(/^HTTP\/1\.1 408/);
      expect(elapsed).toBeGreaterThanOrEqual(400);
      expect(elapsed).toBeLessThan(5000);
      // The server itself is unaffected.
      expect((await fetch(`${svc.url}/health`)).status).toBe(200);
    } finally {
      await svc.stop();
    }
  });
});

describe('graceful shutdown', () => {
  it('finishes a request in flight, refuses new connections, exits 0', async () => {
    const svc = await startService();
    const body = JSON.stringify({ features: rows[0] });
    // Send the headers and half the body, so the request is in flight when SIGTERM arrives.
    const sock = connect(svc.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let response = '';
    sock.on('data', (d) => (response += d.toString()));
    const ended = new Promise((r) => sock.once('end', r));
    sock.write(`POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
    sock.write(body.slice(0, 40));
    await new Promise((r) => setTimeout(r, 200));
    svc.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    expect(svc.proc.exitCode).toBe(null);
    expect(await refused(svc.port)).toBe(true);
    sock.write(body.slice(40));
    await ended;
    expect(response).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(response).toContain('"model_version":"1.0.0"');
    expect(await svc.exited).toBe(0);
    expect(svc.stdout()).toContain('"msg":"stopped","outcome":"drained"');
  });

  it('exits 0 on SIGINT too', async () => {
    const svc = await startService({ env: { OTEL_METRICS_EXPORTER: 'none' } });
    svc.proc.kill('SIGINT');
    expect(await svc.exited).toBe(0);
  });
});

