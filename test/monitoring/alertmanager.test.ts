/**
 * Alertmanager: the configuration passes amtool, routing is proven with `amtool config routes
 * test`, and a real Alertmanager running the committed configuration inhibits and delivers.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRules } from '../../infra/prometheus/rules.ts';
import { API_JOB } from '../../infra/prometheus/thresholds.ts';
import { freePort, repoText, repoYaml, runTool, waitForOk } from '../helpers/monitoring.ts';
import { toolPath } from '../helpers/tools.ts';

const CONFIG = 'infra/alertmanager/alertmanager.yml';
const alerts = buildRules().alerts.flatMap((g) => g.rules);
const config = repoYaml(CONFIG);

/** [labels, expected receiver]: every alert the rules define, plus labels the rules never set. */
const ROUTES: [Record<string, string>, string][] = [
  ...alerts.map((a): [Record<string, string>, string] => [{ alertname: a.alert, job: API_JOB, severity: a.labels.severity }, a.labels.severity]),
  [{ alertname: 'SomethingNew', job: API_JOB, severity: 'critical' }, 'ticket'],
  [{ alertname: 'NoSeverity', job: 'prometheus' }, 'ticket'],
];

describe('amtool', () => {
  it('check-config accepts the configuration', () => {
    const r = runTool('amtool', ['check-config', CONFIG]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
    expect(r.stdout).toContain('2 receivers');
    expect(r.stdout).toContain('4 inhibit rules');
  });

  it.each(ROUTES.map(([labels, receiver]) => [Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(' '), receiver] as const))(
    'routes %s to %s',
    (labelArgs, receiver) => {
    const args = labelArgs.split(' ');
    const r = runTool('amtool', ['config', 'routes', 'test', `--config.file=${CONFIG}`, `--verify.receivers=${receiver}`, ...args]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout.trim()).toBe(receiver);
    },
  );

  it('reports a wrong expectation (the routing test can fail)', () => {
    const r = runTool('amtool', ['config', 'routes', 'test', `--config.file=${CONFIG}`, '--verify.receivers=page', 'severity=ticket']);
    expect(r.code).not.toBe(0);
  });
});

describe('configuration', () => {
  it('groups by alert name and job, with bounded waits and repeats', () => {
    expect(config.route.group_by).toEqual(['alertname', 'job']);
    const page = config.route.routes.find((r: any) => r.receiver === 'page');
    const ticket = config.route.routes.find((r: any) => r.receiver === 'ticket');
    expect(page.matchers).toEqual(['severity="page"']);
    expect(ticket.matchers).toEqual(['severity="ticket"']);
    expect(page.repeat_interval).toBe('1h');
    expect(ticket.repeat_interval).toBe('24h');
  });

  it('inhibits exactly the error and latency alerts of the API while it is down or gone', () => {
    const rule = config.inhibit_rules[0];
    const regex = (m: string) => new RegExp(`^(?:${/^alertname=~"(.*)"$/.exec(m)![1]})$`);
    const sources = alerts.map((a) => a.alert).filter((n) => regex(rule.source_matchers[0]).test(n));
    const targets = alerts.map((a) => a.alert).filter((n) => regex(rule.target_matchers[0]).test(n));
    expect(sources.sort()).toEqual(['InferenceApiAbsent', 'InferenceApiDown']);
    expect(targets.sort()).toEqual(
      alerts
        .map((a) => a.alert)
        .filter((n) => n.startsWith('InferenceApi') && !sources.includes(n))
        .sort(),
    );
    expect(rule.equal).toEqual(['job']);
  });

  it('keeps the score drift of a collapsed model quiet on the same instance only', () => {
    const rule = config.inhibit_rules.find((r: any) => r.source_matchers[0] === 'alertname="ModelPredictionsCollapsed"');
    expect(rule.target_matchers).toEqual(['alertname="ModelPredictionDrift"']);
    expect(rule.equal).toEqual(['job', 'instance']);
    const names = alerts.map((a) => a.alert);
    expect(names).toContain('ModelPredictionsCollapsed');
    expect(names).toContain('ModelPredictionDrift');
    // Feature drift is not inhibited: shifted inputs are worth a ticket even under a collapse.
    expect(JSON.stringify(config.inhibit_rules)).not.toContain('ModelFeatureDrift');
  });

  it('takes webhook URLs from files, never inline', () => {
    const text = repoText(CONFIG);
    expect(text).not.toMatch(/^\s*-?\s*url:/m);
    for (const r of config.receivers) {
      expect(r.webhook_configs.length).toBeGreaterThan(0);
      for (const w of r.webhook_configs) expect(w.url_file).toMatch(/^\/run\/secrets\/\w+$/);
    }
    // The commented alternatives exist for the usual channels.
    for (const channel of ['slack_configs', 'email_configs', 'pagerduty_configs']) expect(text).toContain(`# ${channel}:`);
  });
});

interface Delivery {
  receiver: string;
  groupLabels: Record<string, string>;
  alerts: { labels: Record<string, string> }[];
}

describe('a real Alertmanager with the committed configuration', () => {
  let dir = '';
  let port = 0;
  let proc: ReturnType<typeof spawn> | undefined;
  let hook: Server | undefined;
  let log = '';
  const delivered: { path: string; body: Delivery }[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'alertmanager-test-'));
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        delivered.push({ path: req.url ?? '', body: JSON.parse(body) as Delivery });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => hook!.listen(0, '127.0.0.1', resolve));
    const hookPort = (hook.address() as { port: number }).port;
    // The secrets compose would mount, as files in this test's folder.
    writeFileSync(join(dir, 'alertmanager_page_webhook_url'), `http://127.0.0.1:${hookPort}/page\n`);
    writeFileSync(join(dir, 'alertmanager_ticket_webhook_url'), `http://127.0.0.1:${hookPort}/ticket\n`);
    writeFileSync(join(dir, 'alertmanager.yml'), repoText(CONFIG).replaceAll('/run/secrets/', `${dir}/`));
    port = await freePort();
    proc = spawn(toolPath('alertmanager'), [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ]);
    proc.stderr?.on('data', (b: Buffer) => (log += b.toString()));
    await waitForOk(`http://127.0.0.1:${port}/-/ready`).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${log}`);
    });
  });

  afterAll(async () => {
    proc?.kill('SIGTERM');
    await new Promise((r) => hook?.close(r));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('suppresses the API error alerts while the API is down, and pages only for the outage', async () => {
    const now = new Date().toISOString();
    const post = (labels: Record<string, string>) => ({ labels, annotations: { summary: labels.alertname! }, startsAt: now });
    const res = await fetch(`http://127.0.0.1:${port}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        post({ alertname: 'InferenceApiDown', job: API_JOB, instance: 'api:9464', severity: 'page' }),
        post({ alertname: 'InferenceApiHighErrorRatio', job: API_JOB, severity: 'page' }),
        // Another job's error alert is not inhibited by this job's outage.
        post({ alertname: 'InferenceApiHighErrorRatio', job: 'inference-api-canary', severity: 'page' }),
      ]),
    });
    expect(res.status).toBe(200);

    const states = (await (await fetch(`http://127.0.0.1:${port}/api/v2/alerts`)).json()) as {
      labels: Record<string, string>;
      status: { state: string; inhibitedBy: string[] };
    }[];
    const state = (name: string, job: string) => states.find((a) => a.labels.alertname === name && a.labels.job === job)?.status;
    expect(state('InferenceApiDown', API_JOB)?.state).toBe('active');
    expect(state('InferenceApiHighErrorRatio', API_JOB)?.state).toBe('suppressed');
    expect(state('InferenceApiHighErrorRatio', API_JOB)?.inhibitedBy).toHaveLength(1);
    expect(state('InferenceApiHighErrorRatio', 'inference-api-canary')?.state).toBe('active');

    // Pages wait 10 s to gather their group, then go to the page webhook read from its file.
    for (const deadline = Date.now() + 30_000; delivered.length < 2 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 1000));
    expect(delivered.every((d) => d.path === '/page' && d.body.receiver === 'page')).toBe(true);
    const groups = delivered.map((d) => d.body.groupLabels).sort((a, b) => (a.job! < b.job! ? -1 : 1));
    expect(groups).toEqual([
      { alertname: 'InferenceApiDown', job: API_JOB },
      { alertname: 'InferenceApiHighErrorRatio', job: 'inference-api-canary' },
    ]);
  });
});
