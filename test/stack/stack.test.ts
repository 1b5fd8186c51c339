/**
 * The stack, live: the real Prometheus and Alertmanager (Debian's binaries) against the running
 * service, with the fast profile generated from the same rule source (1 s scrape/evaluation).
 * The tests run in order and share one stack; each drill measures fault-to-alert and
 * fix-to-resolve times through Alertmanager to a webhook receiver.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetRows } from '../helpers/app.ts';
import { query, waitQuery } from '../helpers/prom.ts';
import { backgroundLoad, recordTiming, setFaults, sleep, startDrillStack, type DrillStack } from '../helpers/stack.ts';
import { REPO_ROOT } from '../helpers/tools.ts';

const { rows } = datasetRows();
const JOB = 'inference-api';
let s: DrillStack;

beforeAll(async () => {
  s = await startDrillStack();
}, 120_000);
afterAll(async () => {
  await s?.close();
});

const post = (body: unknown, path = '/predict', headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(`${s.api}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

/** Waits until Prometheus has scraped everything the API has counted so far. */
async function scraped(): Promise<void> {
  const text = await (await fetch(`${s.api}/metrics`)).text();
  const want = text.split('\n').filter((l) => l.startsWith('api_prediction_total{')).reduce((a, l) => a + Number(l.split(' ').pop()), 0);
  await waitQuery(s.prom, `sum(api_prediction_total{job="${JOB}"})`, (r) => (r[0]?.value ?? 0) >= want, 15_000);
  await sleep(1500);
}

describe('the stack is up', () => {
  it('Prometheus is healthy and ready and scrapes the API', async () => {
    expect((await fetch(`${s.prom}/-/healthy`)).status).toBe(200);
    expect((await fetch(`${s.prom}/-/ready`)).status).toBe(200);
    const up = await waitQuery(s.prom, `up{job="${JOB}"}`, (r) => r.length === 1 && r[0]!.value === 1);
    expect(up[0]!.value).toBe(1);
    for (const job of ['prometheus', 'alertmanager']) await waitQuery(s.prom, `up{job="${job}"}`, (r) => r[0]?.value === 1);
  });
});

describe('a clean load run', () => {
  it('fires no alert at all', async () => {
    const since = Date.now();
    const load = backgroundLoad({ url: s.api, rate: 40, batchSizes: [1, 1, 1, 8], seed: 11 });
    await sleep(45_000);
    const summary = await load.stop();
    expect(summary.byStatus['200']).toBe(summary.sent);
    await sleep(5_000);
    expect([...s.hook.seen(since)]).toEqual([]);
    const firing = await query(s.prom, 'ALERTS{alertstate="firing"}');
    expect(firing.map((a) => a.metric.alertname)).toEqual([]);
    recordTiming('clean run', { seconds: 50, requests: summary.sent, alerts: 0 });
  }, 90_000);
});

describe('exactness', () => {
  it('Prometheus holds exactly the counts of a known mix of requests', async () => {
    const before = async (expr: string) => (await query(s.prom, expr))[0]?.value ?? 0;
    await scraped();
    const q = {
      ok: `sum(api_request_total{job="${JOB}",method="POST",endpoint="/predict",http_status="200"})`,
      unprocessable: `sum(api_request_total{job="${JOB}",method="POST",endpoint="/predict",http_status="422"})`,
      malformed: `sum(api_request_total{job="${JOB}",method="POST",endpoint="/predict",http_status="400"})`,
      unsupported: `sum(api_request_total{job="${JOB}",method="POST",endpoint="/predict",http_status="415"})`,
      unmatched: `sum(api_request_total{job="${JOB}",method="GET",endpoint="unmatched",http_status="404"})`,
      predictions: `sum(api_prediction_total{job="${JOB}"})`,
    };
    const start: Record<string, number> = {};
    for (const [k, e] of Object.entries(q)) start[k] = await before(e);
    // 7 single rows, 3 batches of 5/10/20 rows, 4 bad rows, 2 malformed, 1 wrong type, 6 unmatched paths.
    for (let i = 0; i < 7; i++) expect((await post({ features: rows[i] })).status).toBe(200);
    for (const n of [5, 10, 20]) expect((await post({ instances: rows.slice(0, n) })).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await post({ features: [1, 2] })).status).toBe(422);
    for (let i = 0; i < 2; i++) expect((await post('{"features": [')).status).toBe(400);
    expect((await post('x', '/predict', { 'content-type': 'text/plain' })).status).toBe(415);
    for (const p of ['/a', '/b', '/c/d', '/.git/config', '/predict/x', '/wp-login.php']) expect((await fetch(`${s.api}${p}`)).status).toBe(404);
    await scraped();
    const delta: Record<string, number> = {};
    for (const [k, e] of Object.entries(q)) delta[k] = (await before(e)) - start[k]!;
    expect(delta).toEqual({ ok: 10, unprocessable: 4, malformed: 2, unsupported: 1, unmatched: 6, predictions: 7 + 35 });
    // Unmatched paths never became endpoint values.
    const endpoints = (await query(s.prom, `count by (endpoint) (api_request_total{job="${JOB}"})`)).map((r) => r.metric.endpoint);
    for (const e of endpoints) expect(['/predict', '/model', '/health', '/ready', '/metrics', '/admin/faults', 'unmatched']).toContain(e);
  }, 60_000);
});

describe('rules and dashboards against the live Prometheus', () => {
  it('every recording and alerting rule loads and evaluates with health ok', async () => {
    const res = (await (await fetch(`${s.prom}/api/v1/rules`)).json()) as { data: { groups: Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string }> }> } };
    const rules = res.data.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(20);
    const files = readdirSync(join(REPO_ROOT, 'infra/prometheus/rules')).filter((f) => f.endsWith('.yml'));
    const committed = files.flatMap((f) => [...readFileSync(join(REPO_ROOT, 'infra/prometheus/rules', f), 'utf8').matchAll(/^\s+- (?:alert|record): (\S+)/gm)].map((m) => m[1]!));
    expect(rules.map((r) => r.name).sort()).toEqual(committed.sort());
    for (const r of rules) expect(`${r.name}: ${r.health} ${r.lastError ?? ''}`).toBe(`${r.name}: ok `);
  });

  it('every panel query of every dashboard evaluates without error and returns data after a short load', async () => {
    // Some 5xx too, so error panels have something to show.
    await setFaults(s.api, { error_ratio: 0.05 });
    const load = backgroundLoad({ url: s.api, rate: 40, batchSizes: [1, 8], badShare: 0.05, seed: 5 });
    await sleep(20_000);
    await load.stop();
    await setFaults(s.api, { error_ratio: 0 });
    const instance = (await query(s.prom, `up{job="${JOB}"}`))[0]!.metric.instance!;
    const vars: Record<string, string> = { job: JOB, instance, endpoint: '/predict', __rate_interval: '15s', __interval: '15s', __range: '5m' };
    const dir = join(REPO_ROOT, 'infra/grafana/dashboards');
    let checked = 0;
    const empty: string[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const dash = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      const panels = (dash.panels ?? []).flatMap((p: any) => [p, ...(p.panels ?? [])]);
      for (const panel of panels) {
        for (const target of panel.targets ?? []) {
          if (!target.expr) continue;
          const expr = String(target.expr).replace(/\$\{?(\w+)(?::\w+)?\}?/g, (m: string, name: string) => {
            if (!(name in vars)) throw new Error(`${file} "${panel.title}": unknown variable ${m}`);
            return vars[name]!;
          });
          const result = await query(s.prom, expr);
          checked++;
          if (result.length === 0) empty.push(`${file} "${panel.title}": ${expr}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
    expect(empty).toEqual([]);
  }, 90_000);
});

describe('fault drills: each alert reaches the webhook through Alertmanager, and resolves', () => {
  it('requests continue but none yields a prediction: InferenceApiPredictionsStalled', async () => {
    const load = backgroundLoad({ url: s.api, rate: 30, badShare: 1, seed: 21 });
    const start = Date.now();
    const fired = await s.hook.waitFor('InferenceApiPredictionsStalled', 'firing', 90_000, start);
    await load.stop();
    const healthy = backgroundLoad({ url: s.api, rate: 30, seed: 22 });
    const fixed = Date.now();
    const resolved = await s.hook.waitFor('InferenceApiPredictionsStalled', 'resolved', 90_000, fixed);
    await healthy.stop();
    recordTiming('no predictions', { to_alert_s: (fired - start) / 1000, to_resolve_s: (resolved - fixed) / 1000 });
  }, 200_000);

  it('injected latency: InferenceApiLatencyP99High', async () => {
    const load = backgroundLoad({ url: s.api, rate: 30, seed: 31 });
    await sleep(3000);
    const start = Date.now();
    await setFaults(s.api, { latency_ms: 300, latency_ratio: 0.5 });
    const fired = await s.hook.waitFor('InferenceApiLatencyP99High', 'firing', 90_000, start);
    const fixed = Date.now();
    await setFaults(s.api, { latency_ratio: 0 });
    const resolved = await s.hook.waitFor('InferenceApiLatencyP99High', 'resolved', 90_000, fixed);
    await load.stop();
    recordTiming('latency', { to_alert_s: (fired - start) / 1000, to_resolve_s: (resolved - fixed) / 1000 });
  }, 200_000);

  it('5xx burst: InferenceApiHighErrorRatio and the fast availability burn-rate page', async () => {
    const load = backgroundLoad({ url: s.api, rate: 40, seed: 41 });
    await sleep(3000);
    const start = Date.now();
    await setFaults(s.api, { error_ratio: 0.5 });
    const fired = await s.hook.waitFor('InferenceApiHighErrorRatio', 'firing', 90_000, start);
    const burn = await s.hook.waitFor('InferenceApiAvailabilityBudgetBurnFast', 'firing', 90_000, start);
    const page = s.hook.notifications.find((n) => n.at >= start && n.alerts.some((a) => a.labels.alertname === 'InferenceApiAvailabilityBudgetBurnFast'))!;
    expect(page.alerts[0]!.labels.severity).toBe('page');
    expect(page.alerts[0]!.annotations.runbook_url).toContain('docs/runbook.md#');
    const fixed = Date.now();
    await setFaults(s.api, { error_ratio: 0 });
    const resolved = await s.hook.waitFor('InferenceApiHighErrorRatio', 'resolved', 120_000, fixed);
    const burnResolved = await s.hook.waitFor('InferenceApiAvailabilityBudgetBurnFast', 'resolved', 180_000, fixed);
    await load.stop();
    recordTiming('5xx burst', {
      error_ratio_to_alert_s: (fired - start) / 1000,
      burn_rate_to_alert_s: (burn - start) / 1000,
      error_ratio_to_resolve_s: (resolved - fixed) / 1000,
      burn_rate_to_resolve_s: (burnResolved - fixed) / 1000,
    });
  }, 400_000);

  it('API process killed: InferenceApiDown, and no error or latency alert (inhibited)', async () => {
    const load = backgroundLoad({ url: s.api, rate: 30, seed: 51 });
    await sleep(3000);
    const start = Date.now();
    await s.stack.api!.stop('SIGKILL');
    const fired = await s.hook.waitFor('InferenceApiDown', 'firing', 60_000, start);
    await sleep(15_000);
    const fixed = Date.now();
    await s.stack.startApi({ LOG_LEVEL: 'warn', FAULT_INJECTION_ENABLED: 'true' });
    const resolved = await s.hook.waitFor('InferenceApiDown', 'resolved', 60_000, fixed);
    await load.stop();
    const symptoms = [...s.hook.seen(start, 'firing')].filter((n) => /Error|Latency|Stalled|BudgetBurn/.test(n));
    expect(symptoms).toEqual([]);
    recordTiming('process killed', { to_alert_s: (fired - start) / 1000, to_resolve_s: (resolved - fixed) / 1000 });
  }, 200_000);
});

describe('persistence', () => {
  it('Prometheus restarted on the same data folder still answers for samples from before', async () => {
    await scraped();
    const t = Date.now() / 1000;
    // Samples of the whole run so far (minutes of 1 s scrapes), and a counter's value at t.
    const exprs = [`count_over_time(up{job="${JOB}"}[30m])`, `sum(api_request_total{job="${JOB}"})`];
    const before = await Promise.all(exprs.map((e) => query(s.prom, e, t)));
    expect(before[0]![0]!.value).toBeGreaterThan(100);
    expect(before[1]![0]!.value).toBeGreaterThan(0);
    await s.stack.prometheus.stop();
    await s.stack.startPrometheus();
    const after = await Promise.all(exprs.map((e) => query(s.prom, e, t)));
    expect(after.map((r) => r[0]!.value)).toEqual(before.map((r) => r[0]!.value));
  }, 120_000);
});
