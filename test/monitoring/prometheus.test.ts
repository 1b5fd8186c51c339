/**
 * Prometheus configuration and rules, checked by the real promtool and a real Prometheus, plus
 * the structural rules the unit tests must follow (both sides of every `for:`, a quiet case per
 * alert, every recording rule covered).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateMonitoring } from '../../infra/generate.ts';
import { PROMETHEUS_METRICS, seriesCatalog } from '../../infra/prometheus/catalog.ts';
import { buildRules, R, RUNBOOK_URL, runbookAnchor } from '../../infra/prometheus/rules.ts';
import { LIMITS, POSITIVE_LABEL, SCORE_BANDS, TIMING } from '../../infra/prometheus/thresholds.ts';
import { FAST_TIMING } from '../../scripts/lib/stack.ts';
import { freePort, repoText, repoYaml, runTool, waitForOk } from '../helpers/monitoring.ts';
import { groupingLabels, selectors } from '../helpers/promql.ts';
import { REPO_ROOT, toolPath } from '../helpers/tools.ts';

const rules = buildRules();
const alerts = rules.alerts.flatMap((g) => g.rules);
const records = rules.recording.flatMap((g) => g.rules);
const groupOrder = [...rules.recording, ...rules.alerts].map((g) => g.name);
const TEST_DIR = 'infra/prometheus/tests';
const testFiles = readdirSync(join(REPO_ROOT, TEST_DIR)).filter((f) => f.endsWith('.test.yml')).sort();

/** Prometheus duration ("3d1h45m") in milliseconds. */
function ms(d: string): number {
  const units: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3, y: 31536000e3 };
  let total = 0;
  const re = /(\d+)(ms|s|m|h|d|w|y)/gy;
  let m: RegExpExecArray | null;
  let seen = 0;
  while ((m = re.exec(d))) {
    total += Number(m[1]) * units[m[2]!]!;
    seen += m[0].length;
  }
  if (seen !== d.length || d.length === 0) throw new Error(`bad duration ${d}`);
  return total;
}

interface AlertTest {
  eval_time: string;
  alertname: string;
  exp_alerts?: { exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }[] | null;
}
interface TestGroup {
  name?: string;
  interval?: string;
  alert_rule_test?: AlertTest[];
  promql_expr_test?: { expr: string; eval_time: string; exp_samples?: unknown[] }[];
}
interface TestFile {
  rule_files: string[];
  evaluation_interval?: string;
  group_eval_order?: string[];
  tests: TestGroup[];
}
const parsedTests = testFiles.map((f) => ({ file: f, doc: repoYaml<TestFile>(`${TEST_DIR}/${f}`) }));

describe('promtool', () => {
  it('check config accepts prometheus.yml and the rule files it loads', () => {
    const r = runTool('promtool', ['check', 'config', 'infra/prometheus/prometheus.yml']);
    expect(r.stderr + r.stdout).toContain('is valid prometheus config file syntax');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('SUCCESS: 2 rule files found');
  });

  it('check rules accepts every rule file, with every rule in it', () => {
    const r = runTool('promtool', ['check', 'rules', 'infra/prometheus/rules/recording.yml', 'infra/prometheus/rules/alerts.yml']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain(`SUCCESS: ${records.length} rules found`);
    expect(r.stdout).toContain(`SUCCESS: ${alerts.length} rules found`);
  });

  // Days of series evaluated minute by minute: slow on a busy machine, hence the timeout.
  it.each(testFiles)('test rules passes %s', { timeout: 240_000 }, (file) => {
    const r = runTool('promtool', ['test', 'rules', `${TEST_DIR}/${file}`]);
    expect(r.stderr + r.stdout).toMatch(/SUCCESS/);
    expect(r.code, r.stderr + r.stdout).toBe(0);
  });
});

describe('rules', () => {
  const catalog = seriesCatalog();

  it('committed rule files equal what infra/prometheus/rules.ts generates', () => {
    const generated = Object.entries(generateMonitoring()).filter(([rel]) => rel.startsWith('infra/prometheus/rules/'));
    expect(generated.map(([rel]) => rel).sort()).toEqual(readdirSync(join(REPO_ROOT, 'infra/prometheus/rules')).map((f) => `infra/prometheus/rules/${f}`).sort());
    for (const [rel, content] of generated) expect(repoText(rel), `${rel}: run npm run gen:monitoring`).toBe(content);
  });

  it('name recording rules level:metric:operations', () => {
    for (const r of records) expect(r.record).toMatch(/^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z0-9_]+$/);
  });

  it('query only catalogued series (instrument table, recording rules, Prometheus) by their labels', () => {
    for (const rule of [...records, ...alerts]) {
      const name = 'record' in rule ? rule.record : rule.alert;
      const used = selectors(rule.expr);
      expect(used.length, name).toBeGreaterThan(0);
      const known = new Set<string>(['status_class']); // added by label_replace in the request-rate rule
      for (const sel of used) {
        expect(sel.metric, `${name}: selector without a metric name`).not.toBe('');
        const labels = catalog.get(sel.metric);
        expect(labels, `${name}: unknown series ${sel.metric}`).toBeDefined();
        for (const l of labels!) known.add(l);
        for (const l of sel.labels) expect(labels!.has(l), `${name}: ${sel.metric} has no label ${l}`).toBe(true);
      }
      for (const l of groupingLabels(rule.expr)) expect(known.has(l), `${name}: groups by unknown label ${l}`).toBe(true);
    }
  });

  it('give every alert a severity, a summary, a description quoting the value and its own runbook section', () => {
    const runbook = repoText('docs/runbook.md');
    const anchors = new Set([...runbook.matchAll(/^## (\S+)\s*$/gm)].map((m) => m[1]!.toLowerCase()));
    for (const a of alerts) {
      expect(['page', 'ticket']).toContain(a.labels.severity);
      expect(a.annotations.summary.length, a.alert).toBeGreaterThan(10);
      expect(a.annotations.description, a.alert).toContain('$value');
      expect(a.annotations.runbook_url).toBe(`${RUNBOOK_URL}#${runbookAnchor(a.alert)}`);
      expect(anchors.has(runbookAnchor(a.alert)), `docs/runbook.md has no "## ${a.alert}" section`).toBe(true);
    }
  });

  it('cover what the issue asks for', () => {
    const names = alerts.map((a) => a.alert);
    expect(new Set(names).size).toBe(names.length);
    const expr = (n: string) => alerts.find((a) => a.alert === n)!.expr;
    expect(expr('InferenceApiDown')).toMatch(/^up\{job="inference-api"\} == 0$/);
    expect(expr('InferenceApiAbsent')).toMatch(/^absent\(up\{job="inference-api"\}\)$/);
    expect(expr('InferenceApiLatencyP99High')).toMatch(/p99.* > 0\.2$/);
    expect(expr('InferenceApiLatencyCreep')).toContain('offset 1d');
    for (const slo of ['Availability', 'Latency']) {
      const fast = alerts.find((a) => a.alert === `InferenceApi${slo}BudgetBurnFast`)!;
      const slow = alerts.find((a) => a.alert === `InferenceApi${slo}BudgetBurnSlow`)!;
      expect(fast.labels.severity).toBe('page');
      expect(slow.labels.severity).toBe('ticket');
      for (const w of ['1h', '5m', '6h', '30m']) expect(fast.expr).toContain(`ratio_rate${w}{`);
      for (const w of ['1d', '2h', '3d', '6h']) expect(slow.expr).toContain(`ratio_rate${w}{`);
    }
    for (const n of ['PrometheusRuleEvaluationFailures', 'PrometheusTargetsDown', 'PrometheusAlertmanagerUnreachable']) {
      expect(names).toContain(n);
    }
  });

  it('cover the model-quality alerts of issue 5, with thresholds from thresholds.ts', () => {
    const rule = (n: string) => alerts.find((a) => a.alert === n)!;
    const collapse = rule('ModelPredictionsCollapsed');
    expect(collapse.labels.severity).toBe('page');
    for (const r of [R.positiveRatio, R.scoreBottomShare, R.scoreTopShare, R.predictionRateByVersion, 'model_baseline_positive_rate', 'model_info']) expect(collapse.expr).toContain(r);
    expect(collapse.expr).toContain(`> ${LIMITS.collapseBandShare}`);
    expect(collapse.expr).toContain(`/ ${LIMITS.collapsePositiveRateFactor}`);
    // "While traffic flows": the minimum rows over the 5m window, as a rate.
    expect(collapse.expr).toContain(`>= ${LIMITS.collapseMinRows / 300}`);
    const bands = records.filter((r) => r.record === R.scoreBottomShare || r.record === R.scoreTopShare).map((r) => r.expr).join('\n');
    expect(bands).toContain(`le="${SCORE_BANDS.bottom}"`);
    expect(bands).toContain(`le="${SCORE_BANDS.top}"`);
    expect(records.find((r) => r.record === R.positiveRatio)!.expr).toContain(`label="${POSITIVE_LABEL}"`);
    for (const [n, metric] of [['ModelFeatureDrift', 'model_feature_drift_psi'], ['ModelPredictionDrift', 'model_prediction_drift_psi']] as const) {
      const a = rule(n);
      expect(a.labels.severity).toBe('ticket');
      expect(a.expr).toBe(`${metric}{job="inference-api"} > ${LIMITS.psiWarning}`);
    }
    // The feature is a label of the alert and named in its text.
    expect(rule('ModelFeatureDrift').annotations.summary).toContain('{{ $labels.feature }}');
    expect(rule('ModelFeatureDrift').annotations.description).toContain('{{ $labels.feature }}');
    const load = rule('ModelLoadFailed');
    expect(load.labels.severity).toBe('ticket');
    expect(load.expr).toContain('increase(model_load_failures_total{job="inference-api"}[1h])');
    expect(groupingLabels(load.expr)).toContain('reason');
  });

  it('give every alert a for: in the fast drill profile too', () => {
    expect(Object.keys(FAST_TIMING.for).sort()).toEqual(Object.keys(TIMING.for).sort());
    for (const a of buildRules(FAST_TIMING).alerts.flatMap((g) => g.rules)) expect(ms(a.for), a.alert).toBeLessThanOrEqual(10_000);
  });
});

describe('rule unit tests', () => {
  it('load both rule files and evaluate recording groups before alerting groups', () => {
    for (const { file, doc } of parsedTests) {
      expect(doc.rule_files, file).toEqual(['../rules/recording.yml', '../rules/alerts.yml']);
      expect(doc.group_eval_order, file).toEqual(groupOrder);
    }
  });

  it('test every alert on both sides of its for: window, with its exact labels and annotations', () => {
    for (const a of alerts) {
      const hold = ms(a.for);
      const proofs: string[] = [];
      for (const { file, doc } of parsedTests) {
        const step = ms(doc.evaluation_interval ?? '1m');
        for (const g of doc.tests) {
          const cases = (g.alert_rule_test ?? []).filter((t) => t.alertname === a.alert);
          for (const firing of cases.filter((t) => (t.exp_alerts ?? []).length > 0)) {
            const before = cases.find((t) => (t.exp_alerts ?? []).length === 0 && ms(t.eval_time) === ms(firing.eval_time) - step);
            if (!before) continue;
            expect(ms(firing.eval_time), `${file}: ${g.name}`).toBeGreaterThanOrEqual(hold);
            for (const exp of firing.exp_alerts!) {
              expect(exp.exp_labels?.severity, `${file}: ${g.name}`).toBe(a.labels.severity);
              expect(Object.keys(exp.exp_annotations ?? {}).sort(), `${file}: ${g.name}`).toEqual(['description', 'runbook_url', 'summary']);
            }
            proofs.push(`${file}: ${g.name}`);
          }
        }
      }
      expect(proofs.length, `${a.alert} needs a quiet evaluation one step before a firing one`).toBeGreaterThan(0);
    }
  });

  it('keep every alert quiet in at least one scenario, including a restarted API', () => {
    for (const a of alerts) {
      const quiet = parsedTests.flatMap(({ doc }) =>
        doc.tests.filter((g) => {
          const cases = (g.alert_rule_test ?? []).filter((t) => t.alertname === a.alert);
          return cases.length > 0 && cases.every((t) => (t.exp_alerts ?? []).length === 0);
        }),
      );
      expect(quiet.length, `${a.alert} has no must-stay-quiet scenario`).toBeGreaterThan(0);
    }
    const restart = parsedTests.find((t) => t.file === 'quiet.test.yml')!.doc.tests[0]!;
    const checked = new Set((restart.alert_rule_test ?? []).map((t) => t.alertname));
    expect([...checked].sort()).toEqual(alerts.map((a) => a.alert).sort());
    expect((restart.alert_rule_test ?? []).every((t) => (t.exp_alerts ?? []).length === 0)).toBe(true);
  });

  it('check every recording rule with a promql_expr_test', () => {
    const exprs = parsedTests.flatMap(({ doc }) => doc.tests.flatMap((g) => (g.promql_expr_test ?? []).map((t) => t.expr)));
    for (const r of records) expect(exprs.some((e) => selectors(e).some((s) => s.metric === r.record)), r.record).toBe(true);
  });

  it('counts', () => {
    const alertTests = parsedTests.reduce((n, { doc }) => n + doc.tests.reduce((m, g) => m + (g.alert_rule_test ?? []).length, 0), 0);
    const exprTests = parsedTests.reduce((n, { doc }) => n + doc.tests.reduce((m, g) => m + (g.promql_expr_test ?? []).length, 0), 0);
    const groups = parsedTests.reduce((n, { doc }) => n + doc.tests.length, 0);
    console.info(`promtool: ${groups} test groups, ${alertTests} alert_rule_test cases, ${exprTests} promql_expr_test cases, ${alerts.length} alerts, ${records.length} recording rules`);
    expect(alertTests).toBeGreaterThan(alerts.length * 2);
  });
});

describe('a real Prometheus', () => {
  let dir = '';
  let port = 0;
  let proc: ReturnType<typeof spawn> | undefined;
  let log = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prometheus-test-'));
    port = await freePort();
    mkdirSync(join(dir, 'rules'));
    for (const f of ['recording.yml', 'alerts.yml']) copyFileSync(join(REPO_ROOT, 'infra/prometheus/rules', f), join(dir, 'rules', f));
    // The committed configuration, with its addresses moved to this machine: itself on the test's
    // port, Alertmanager on a port where nothing listens.
    const amPort = await freePort();
    const config = repoText('infra/prometheus/prometheus.yml')
      .replace("'localhost:9090'", `'127.0.0.1:${port}'`)
      .replaceAll("'alertmanager:9093'", `'127.0.0.1:${amPort}'`);
    writeFileSync(join(dir, 'prometheus.yml'), config);
    proc = spawn(toolPath('prometheus'), [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=15d',
    ]);
    proc.stderr?.on('data', (b: Buffer) => (log += b.toString()));
    await waitForOk(`http://127.0.0.1:${port}/-/ready`).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${log}`);
    });
  });

  afterAll(() => {
    proc?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loads every rule group', async () => {
    const res = (await (await fetch(`http://127.0.0.1:${port}/api/v1/rules`)).json()) as {
      data: { groups: { name: string; rules: { type: string; name: string }[] }[] };
    };
    expect(res.data.groups.map((g) => g.name).sort()).toEqual([...groupOrder].sort());
    const loaded = res.data.groups.flatMap((g) => g.rules);
    expect(loaded.filter((r) => r.type === 'alerting').map((r) => r.name).sort()).toEqual(alerts.map((a) => a.alert).sort());
    expect(loaded.filter((r) => r.type === 'recording')).toHaveLength(records.length);
  });

  it('exposes the self-monitoring series the alerts use, with their labels', async () => {
    // Alertmanager discovery is applied a few seconds after start; the notification series follow it.
    let text = '';
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
      text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      if (/^prometheus_notifications_alertmanagers_discovered 1$/m.test(text)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(text).toMatch(/^prometheus_notifications_alertmanagers_discovered 1$/m);
    for (const m of PROMETHEUS_METRICS.filter((x) => x.name.startsWith('prometheus_'))) {
      const line = text.split('\n').find((l) => l.startsWith(`${m.name}{`));
      expect(line, m.name).toBeDefined();
      for (const l of m.labels) expect(line).toContain(`${l}="`);
    }
  });
});
