/**
 * Model-quality drills on the live stack (issue 5): the real Prometheus and Alertmanager with
 * the fast profile, against the API serving from a temporary model folder. Each drill measures
 * fault-to-alert and fix-to-resolve times through Alertmanager to the webhook receiver:
 * - normal traffic for as long as the drift drill fires none of the model-quality alerts;
 * - drifted traffic fires ModelFeatureDrift naming exactly the shifted features, and resolves;
 * - rolling out the broken model (constant 0.0) pages ModelPredictionsCollapsed, and its score
 *   drift is inhibited; rolling back resolves it;
 * - a corrupt model file is refused while traffic flows: no failed request, the old version
 *   keeps serving, ModelLoadFailed fires.
 * The drift window is shortened (400 rows, PSI from 200) so it turns over in seconds.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDrift, readRows } from '../../scripts/lib/loadgen.ts';
import { query, waitQuery } from '../helpers/prom.ts';
import { backgroundLoad, recordTiming, sleep, startDrillStack, type DrillStack } from '../helpers/stack.ts';
import { REPO_ROOT } from '../helpers/tools.ts';
import type { ReceivedAlert } from '../helpers/webhook.ts';

const JOB = 'inference-api';
const TOKEN = 'quality-drill-admin-token';
const MODEL_QUALITY_ALERTS = ['ModelPredictionsCollapsed', 'ModelFeatureDrift', 'ModelPredictionDrift', 'ModelLoadFailed'];
/** Seconds of drifted traffic, and of the clean run that must stay quiet for as long. */
const DRILL_S = 25;
const SHIFTED = ['mean_radius', 'worst_area'];
/** 40 requests/s, a quarter of them 8-row batches: about 110 rows/s, so 400 rows turn over in ~4 s. */
const TRAFFIC = { rate: 40, batchSizes: [1, 1, 1, 8] } as const;

const { features } = readRows(join(REPO_ROOT, 'data/breast-cancer-wisconsin.csv'));
let s: DrillStack;
let modelDir = '';

/** A model folder with v1.0.0, the broken release, and a truncated copy of v1.1.0 (its card intact). */
function makeModelDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'drill-models-'));
  const src = join(REPO_ROOT, 'models');
  for (const stem of ['breast-cancer-v1.0.0', 'breast-cancer-v1.0.1-broken']) {
    for (const ext of ['.onnx', '.card.json']) copyFileSync(join(src, stem + ext), join(dir, stem + ext));
  }
  const bytes = readFileSync(join(src, 'breast-cancer-v1.1.0.onnx'));
  writeFileSync(join(dir, 'breast-cancer-v1.1.0.onnx'), bytes.subarray(0, bytes.length >> 1));
  copyFileSync(join(src, 'breast-cancer-v1.1.0.card.json'), join(dir, 'breast-cancer-v1.1.0.card.json'));
  return dir;
}

beforeAll(async () => {
  modelDir = makeModelDir();
  s = await startDrillStack({
    ADMIN_TOKEN: TOKEN,
    MODEL_DIR: modelDir,
    MODEL_PATH: join(modelDir, 'breast-cancer-v1.0.0.onnx'),
    MODEL_DRIFT_WINDOW_ROWS: '400',
    MODEL_DRIFT_MIN_ROWS: '200',
  });
  await waitQuery(s.prom, `up{job="${JOB}"}`, (r) => r[0]?.value === 1);
}, 120_000);
afterAll(async () => {
  await s?.close();
  if (modelDir) rmSync(modelDir, { recursive: true, force: true });
});

async function rollout(file: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${s.api}/admin/model`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ file }),
  });
  return { status: res.status, body: await res.json() };
}

/** Every alert named `name` with `status` the webhook received since `since`. */
function received(name: string, status: 'firing' | 'resolved', since: number): ReceivedAlert[] {
  return s.hook.notifications.filter((n) => n.at >= since).flatMap((n) => n.alerts.filter((a) => a.labels.alertname === name && a.status === status));
}

/** Waits until a notification arrives with `name` in `status` for every value of `label` in `values`; returns when the last one arrived. */
async function waitForAll(name: string, status: 'firing' | 'resolved', label: string, values: readonly string[], since: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = new Map<string, number>();
    for (const n of s.hook.notifications.filter((x) => x.at >= since)) {
      for (const a of n.alerts) if (a.labels.alertname === name && a.status === status && !got.has(a.labels[label]!)) got.set(a.labels[label]!, n.at);
    }
    if (values.every((v) => got.has(v))) return Math.max(...values.map((v) => got.get(v)!));
    if (Date.now() > deadline) throw new Error(`${name} ${status} for ${values.join(', ')} not all received within ${timeoutMs} ms; got ${[...got.keys()].join(', ') || 'none'}`);
    await sleep(200);
  }
}

async function servingVersions(): Promise<string[]> {
  return (await query(s.prom, `model_info{job="${JOB}"}`)).map((r) => r.metric.version!).sort();
}

describe('normal traffic', () => {
  it(`fires none of the model-quality alerts in ${DRILL_S} s (as long as the drift drill)`, async () => {
    const since = Date.now();
    const load = backgroundLoad({ url: s.api, ...TRAFFIC, seed: 61 });
    await sleep(DRILL_S * 1000);
    const summary = await load.stop();
    expect(summary.byStatus['200']).toBe(summary.sent);
    await sleep(3000);
    // The drift window filled: PSI is reported for every feature, below the alarm.
    const psi = await query(s.prom, `max_over_time(max(model_feature_drift_psi{job="${JOB}"})[${DRILL_S}s:1s])`);
    const scorePsi = await query(s.prom, `max_over_time(max(model_prediction_drift_psi{job="${JOB}"})[${DRILL_S}s:1s])`);
    expect((await query(s.prom, `count(model_feature_drift_psi{job="${JOB}"})`))[0]?.value).toBe(features.length);
    expect(psi[0]!.value).toBeLessThan(0.25);
    expect(scorePsi[0]!.value).toBeLessThan(0.25);
    expect([...s.hook.seen(since)]).toEqual([]);
    const active = await query(s.prom, `ALERTS{alertname=~"${MODEL_QUALITY_ALERTS.join('|')}"}`);
    expect(active.map((a) => `${a.metric.alertname} ${a.metric.alertstate}`)).toEqual([]);
    recordTiming('model quality: clean run', { seconds: DRILL_S, requests: summary.sent, rows: summary.rows, max_feature_psi: Number(psi[0]!.value.toFixed(3)), max_score_psi: Number(scorePsi[0]!.value.toFixed(3)), alerts: 0 });
  }, 90_000);
});

describe('model-quality drills: each alert reaches the webhook through Alertmanager', () => {
  it('drifted inputs fire ModelFeatureDrift naming exactly the shifted features; normal traffic resolves it', async () => {
    const start = Date.now();
    const drifted = backgroundLoad({ url: s.api, ...TRAFFIC, seed: 62, drift: parseDrift(SHIFTED.map((f) => `${f}*1.5`).join(','), features) });
    await sleep(DRILL_S * 1000);
    const fired = await waitForAll('ModelFeatureDrift', 'firing', 'feature', SHIFTED, start, 1000);
    const summary = await drifted.stop();
    expect(summary.byStatus['200']).toBe(summary.sent);
    const named = [...new Set(received('ModelFeatureDrift', 'firing', start).map((a) => a.labels.feature))].sort();
    expect(named).toEqual([...SHIFTED].sort());
    const alert = received('ModelFeatureDrift', 'firing', start)[0]!;
    expect(alert.labels.severity).toBe('ticket');
    expect(alert.annotations.summary).toContain(alert.labels.feature!);
    expect(alert.annotations.description).toMatch(new RegExp(`feature ${alert.labels.feature} .* is \\d+\\.\\d\\d, above 0\\.25`));
    // Rescaling two inputs is not a collapse: the model still answers with both classes.
    expect(s.hook.seen(start, 'firing').has('ModelPredictionsCollapsed')).toBe(false);

    const fixed = Date.now();
    const healthy = backgroundLoad({ url: s.api, ...TRAFFIC, seed: 63 });
    const resolved = await waitForAll('ModelFeatureDrift', 'resolved', 'feature', SHIFTED, fixed, 60_000);
    await healthy.stop();
    recordTiming('model quality: feature drift', { to_alert_s: (fired - start) / 1000, to_resolve_s: (resolved - fixed) / 1000, features_named: named.length });
  }, 120_000);

  it('rolling out the broken model pages ModelPredictionsCollapsed (score drift inhibited); rolling back resolves it', async () => {
    const load = backgroundLoad({ url: s.api, ...TRAFFIC, seed: 64 });
    await sleep(3000);
    const start = Date.now();
    const out = await rollout('breast-cancer-v1.0.1-broken.onnx');
    expect(out.status).toBe(200);
    expect(out.body).toMatchObject({ ok: true, previous: '1.0.0', version: '1.0.1-broken' });
    const fired = await s.hook.waitFor('ModelPredictionsCollapsed', 'firing', 60_000, start);
    const page = received('ModelPredictionsCollapsed', 'firing', start)[0]!;
    expect(page.labels).toMatchObject({ severity: 'page', job: JOB, model_version: '1.0.1-broken' });
    expect(page.annotations.description).toContain('called 0% of its predictions malignant');
    expect(page.annotations.runbook_url).toBe('docs/runbook.md#modelpredictionscollapsed');

    // The broken model's scores drift too (PSI > 1): Prometheus fires it, Alertmanager holds it back.
    await waitQuery(s.prom, `ALERTS{alertname="ModelPredictionDrift", alertstate="firing"}`, (r) => r.length === 1, 30_000);
    const amAlerts = async () =>
      (await (await fetch(`http://127.0.0.1:${s.stack.ports.alertmanager}/api/v2/alerts?filter=alertname%3D%22ModelPredictionDrift%22`)).json()) as {
        status: { state: string; inhibitedBy: string[] };
      }[];
    let drift = await amAlerts();
    for (const deadline = Date.now() + 10_000; drift.length === 0 && Date.now() < deadline; drift = await amAlerts()) await sleep(250);
    expect(drift.map((a) => a.status.state)).toEqual(['suppressed']);
    await sleep(3000); // longer than the fast group_wait and group_interval: anything not held back would have arrived
    expect(s.hook.seen(start, 'firing').has('ModelPredictionDrift')).toBe(false);

    const fixed = Date.now();
    const back = await rollout('breast-cancer-v1.0.0.onnx');
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ ok: true, previous: '1.0.1-broken', version: '1.0.0' });
    const resolved = await s.hook.waitFor('ModelPredictionsCollapsed', 'resolved', 60_000, fixed);
    const summary = await load.stop();
    expect(summary.byStatus['200']).toBe(summary.sent);
    expect(await servingVersions()).toEqual(['1.0.0']);
    recordTiming('model quality: broken model rollout', { to_alert_s: (fired - start) / 1000, to_resolve_s: (resolved - fixed) / 1000 });
  }, 150_000);

  it('a corrupt model file is refused: no failed request, the old version keeps serving, ModelLoadFailed fires', async () => {
    await waitQuery(s.prom, `model_load_failures_total{job="${JOB}", reason="hash_mismatch"}`, (r) => r[0]?.value === 0);
    const load = backgroundLoad({ url: s.api, ...TRAFFIC, seed: 65 });
    await sleep(2000);
    const start = Date.now();
    const refused = await rollout('breast-cancer-v1.1.0.onnx');
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('rollout_refused');
    expect(refused.body.error.details).toMatchObject({ reason: 'hash_mismatch', serving: '1.0.0' });
    const fired = await s.hook.waitFor('ModelLoadFailed', 'firing', 30_000, start);
    const ticket = received('ModelLoadFailed', 'firing', start)[0]!;
    expect(ticket.labels).toMatchObject({ severity: 'ticket', job: JOB, reason: 'hash_mismatch' });
    expect(ticket.annotations.description).toMatch(/^1 model load\(s\) on .* failed with reason hash_mismatch/);
    await sleep(2000);
    const summary = await load.stop();
    expect(summary.errors).toBe(0);
    expect(summary.byStatus['200']).toBe(summary.sent);
    const failures = await query(s.prom, `model_load_failures_total{job="${JOB}", reason="hash_mismatch"}`);
    expect(failures.map((r) => r.value)).toEqual([1]);
    expect(await servingVersions()).toEqual(['1.0.0']);
    expect(((await (await fetch(`${s.api}/model`)).json()) as { version: string }).version).toBe('1.0.0');
    recordTiming('model quality: corrupt model refused', { to_alert_s: (fired - start) / 1000, requests: summary.sent, failed: summary.sent - (summary.byStatus['200'] ?? 0) });
  }, 90_000);
});
