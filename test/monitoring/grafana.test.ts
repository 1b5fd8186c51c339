/**
 * Grafana provisioning and dashboards. Grafana cannot run here, so the JSON is checked strictly:
 * generated equals committed, datasource uids are the provisioned ones, every query names only
 * catalogued series and labels, and promtool parses every query.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { dashboards, HEALTH_UID, QUALITY_UID, SLO_UID } from '../../infra/grafana/dashboards.ts';
import { DATASOURCE_UIDS } from '../../infra/grafana/kit.ts';
import { seriesCatalog } from '../../infra/prometheus/catalog.ts';
import { LIMITS } from '../../infra/prometheus/thresholds.ts';
import { R } from '../../infra/prometheus/rules.ts';
import { repoText, repoYaml, runTool } from '../helpers/monitoring.ts';
import { groupingLabels, selectors, substituteGrafanaVariables } from '../helpers/promql.ts';
import { REPO_ROOT } from '../helpers/tools.ts';

const DASHBOARD_DIR = 'infra/grafana/dashboards';
const committed = Object.fromEntries(
  readdirSync(join(REPO_ROOT, DASHBOARD_DIR))
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f, JSON.parse(repoText(`${DASHBOARD_DIR}/${f}`)) as any]),
);
const datasources = repoYaml('infra/grafana/provisioning/datasources/datasources.yml');
const providers = repoYaml('infra/grafana/provisioning/dashboards/dashboards.yml');

/** Every object under `node` (depth first), with the path to it. */
function* walk(node: unknown, path = '$'): Generator<[string, Record<string, unknown>]> {
  if (Array.isArray(node)) {
    for (const [i, v] of node.entries()) yield* walk(v, `${path}[${i}]`);
  } else if (node && typeof node === 'object') {
    yield [path, node as Record<string, unknown>];
    for (const [k, v] of Object.entries(node)) yield* walk(v, `${path}.${k}`);
  }
}

/** Every PromQL expression of a dashboard: panel targets, variable queries, annotations. */
function queries(d: any): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const [path, obj] of walk(d)) {
    if (typeof obj.expr === 'string') out.push({ where: path, expr: obj.expr });
    if (typeof obj.definition === 'string') out.push({ where: path, expr: obj.definition });
  }
  return out;
}

function panels(d: any): any[] {
  return d.panels.flatMap((p: any) => [p, ...(p.panels ?? [])]);
}

describe('provisioning', () => {
  it('provides Prometheus and Alertmanager with fixed uids, not editable', () => {
    const byUid = new Map(datasources.datasources.map((d: any) => [d.uid, d]));
    expect([...byUid.keys()].sort()).toEqual(Object.values(DATASOURCE_UIDS).sort());
    const prom = byUid.get(DATASOURCE_UIDS.prometheus) as any;
    const am = byUid.get(DATASOURCE_UIDS.alertmanager) as any;
    expect(prom.type).toBe('prometheus');
    expect(prom.url).toBe('http://prometheus:9090');
    expect(prom.isDefault).toBe(true);
    expect(am.type).toBe('alertmanager');
    expect(am.url).toBe('http://alertmanager:9093');
    for (const d of datasources.datasources) expect(d.editable, d.name).toBe(false);
  });

  it('loads dashboards into the General folder, read-only and undeletable', () => {
    expect(providers.providers).toHaveLength(1);
    const p = providers.providers[0];
    expect(p.folder).toBe(''); // '' is Grafana's General folder
    expect(p.allowUiUpdates).toBe(false);
    expect(p.disableDeletion).toBe(true);
    expect(p.type).toBe('file');
    expect(p.options.path).toBe('/etc/grafana/dashboards');
  });
});

describe('dashboards as code', () => {
  it('committed JSON equals what infra/grafana/dashboards.ts generates', () => {
    const generated = dashboards();
    expect(Object.keys(committed).sort()).toEqual(Object.keys(generated).sort());
    for (const [file, d] of Object.entries(generated)) {
      expect(repoText(`${DASHBOARD_DIR}/${file}`), `${file}: run npm run gen:monitoring`).toBe(`${JSON.stringify(d, null, 2)}\n`);
    }
  });

  it.each(Object.keys(committed))('%s: uids are unique and every datasource reference is provisioned', (file) => {
    const d = committed[file];
    expect(d.editable).toBe(false);
    const provisioned = new Set<string>(Object.values(DATASOURCE_UIDS));
    const dsVar = d.templating.list.find((v: any) => v.type === 'datasource');
    expect(dsVar.name).toBe('datasource');
    expect(dsVar.query).toBe('prometheus');
    expect(provisioned.has(dsVar.current.value)).toBe(true);
    let refs = 0;
    for (const [path, obj] of walk(d)) {
      const ds = obj.datasource as { type?: string; uid?: string } | undefined;
      if (!ds || typeof ds !== 'object') continue;
      refs++;
      if (ds.type === 'grafana') {
        expect(ds.uid, path).toBe('-- Grafana --'); // the built-in annotations
      } else if (ds.uid === '${datasource}') {
        expect(ds.type, path).toBe('prometheus');
      } else {
        expect(provisioned.has(ds.uid!), `${path}: uid ${ds.uid} is not provisioned`).toBe(true);
      }
    }
    expect(refs).toBeGreaterThan(10);
    const ids = panels(d).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each(Object.keys(committed))('%s: queries name only catalogued series and labels', (file) => {
    const catalog = seriesCatalog();
    const qs = queries(committed[file]);
    expect(qs.length).toBeGreaterThan(5);
    for (const { where, expr } of qs) {
      const known = new Set<string>();
      const used = selectors(expr);
      expect(used.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const sel of used) {
        const labels = catalog.get(sel.metric);
        expect(labels, `${where}: unknown series ${sel.metric || '(none)'} in ${expr}`).toBeDefined();
        for (const l of labels!) known.add(l);
        for (const l of sel.labels) expect(labels!.has(l), `${where}: ${sel.metric} has no label ${l}`).toBe(true);
      }
      for (const l of groupingLabels(expr)) expect(known.has(l), `${where}: groups by unknown label ${l}`).toBe(true);
    }
  });

  it('every query parses as PromQL (promtool check rules)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-promql-'));
    try {
      const rules = Object.entries(committed).flatMap(([file, d]) =>
        queries(d).map((q, i) => ({
          record: `dashboard_check:${file.replace(/\W/g, '_')}:q${i}`,
          expr: substituteGrafanaVariables(q.expr.replace(/^\s*label_values\((.*),\s*\w+\s*\)\s*$/s, '$1')),
        })),
      );
      writeFileSync(join(dir, 'dashboards.yml'), stringify({ groups: [{ name: 'dashboards', rules }] }));
      const r = runTool('promtool', ['check', 'rules', join(dir, 'dashboards.yml')]);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Inference Service Health', () => {
  const d = Object.values(committed).find((x) => x.uid === HEALTH_UID);
  const titles = () => panels(d).map((p) => `${p.type}:${p.title}`);

  it('has its fixed uid and title', () => {
    expect(d).toBeDefined();
    expect(d.title).toBe('Inference Service Health');
  });

  it('has datasource, job, instance and endpoint variables', () => {
    expect(d.templating.list.map((v: any) => v.name)).toEqual(['datasource', 'job', 'instance', 'endpoint']);
  });

  it('has the rows the issue asks for, in order', () => {
    expect(d.panels.filter((p: any) => p.type === 'row').map((p: any) => p.title)).toEqual([
      'Overview',
      'RED: rate, errors, duration',
      'Business',
      'Model',
      'Runtime',
      'Prometheus',
    ]);
  });

  it('shows up, request rate, error ratio, p99 and the model version in the overview', () => {
    const rows: Record<string, string[]> = {};
    let current = '';
    for (const p of d.panels) {
      if (p.type === 'row') current = p.title;
      else (rows[current] ??= []).push(`${p.type}:${p.title}`);
    }
    expect(rows['Overview']).toEqual(['stat:Up', 'stat:Requests/s', 'stat:Error ratio (5xx)', 'stat:p99 latency', 'stat:Model version']);
    expect(rows['RED: rate, errors, duration']).toContain('heatmap:Latency distribution');
    expect(rows['Business']).toEqual(['timeseries:Predictions/s by model version', 'stat:Predictions today']);
    expect(rows['Runtime']!.length).toBe(4);
    expect(rows['Prometheus']).toEqual(['timeseries:Scrape duration', 'timeseries:Samples scraped']);
    expect(titles()).toContain('state-timeline:Model version serving');
  });

  it('draws the 200 ms objective on the latency panel', () => {
    const latency = panels(d).find((p) => p.title.startsWith('Latency p50 / p95 / p99'));
    expect(latency.targets.map((t: any) => t.legendFormat)).toEqual(['p50 {{endpoint}}', 'p95 {{endpoint}}', 'p99 {{endpoint}}']);
    expect(latency.fieldConfig.defaults.custom.thresholdsStyle.mode).toBe('line');
    expect(latency.fieldConfig.defaults.thresholds.steps.map((s: any) => s.value)).toContain(LIMITS.latencyP99Seconds);
    expect(latency.fieldConfig.defaults.unit).toBe('s');
  });

  it('counts predictions since midnight and annotates model version changes', () => {
    const today = panels(d).find((p) => p.title === 'Predictions today');
    expect(today.timeFrom).toBe('now/d');
    expect(today.targets[0].expr).toContain('[$__range]');
    const ann = d.annotations.list.find((a: any) => a.name === 'Model version change');
    expect(ann.enable).toBe(true);
    expect(ann.expr).toContain('model_info');
  });
});

describe('Inference Service SLOs', () => {
  const d = Object.values(committed).find((x) => x.uid === SLO_UID);

  it('shows the SLI, error budget remaining and burn rates of both SLOs', () => {
    expect(d.title).toBe('Inference Service SLOs');
    const t = panels(d).map((p) => p.title);
    expect(t.filter((x) => x === 'Error budget remaining over the range')).toHaveLength(2);
    expect(t.filter((x) => x === 'Burn rate by window')).toHaveLength(2);
    const burn = panels(d).find((p) => p.title === 'Burn rate by window');
    expect(burn.targets.map((x: any) => x.legendFormat)).toEqual(['5m', '30m', '1h', '2h', '6h', '1d', '3d']);
  });
});

describe('Inference Model Quality', () => {
  const d = Object.values(committed).find((x) => x.uid === QUALITY_UID);
  const byRow = () => {
    const rows: Record<string, string[]> = {};
    let current = '';
    for (const p of d.panels) {
      if (p.type === 'row') current = p.title;
      else (rows[current] ??= []).push(`${p.type}:${p.title}`);
    }
    return rows;
  };
  const panel = (title: string) => panels(d).find((p) => p.title === title);

  it('has its fixed uid, title, and the datasource, job and instance variables', () => {
    expect(d).toBeDefined();
    expect(d.title).toBe('Inference Model Quality');
    expect(d.templating.list.map((v: any) => v.name)).toEqual(['datasource', 'job', 'instance']);
  });

  it('shows what the issue asks for: score heatmap, positive rate against training, top drifting features, out-of-range inputs, load failures, version timeline', () => {
    expect(byRow()).toEqual({
      Overview: ['stat:Model version', 'stat:Largest feature PSI', 'stat:Prediction PSI', 'stat:Refused model loads'],
      Predictions: ['heatmap:Score distribution', 'timeseries:Positive rate against the training rate', 'timeseries:Scores in the extreme bands'],
      Drift: ['timeseries:Top drifting features (PSI)', 'timeseries:Prediction drift (PSI)', 'timeseries:Rows in the drift window'],
      'Inputs and rollouts': ['timeseries:Out-of-range inputs/s by feature', 'timeseries:Refused model loads by reason', 'state-timeline:Model version serving'],
    });
    expect(panel('Score distribution').targets[0].expr).toContain('api_prediction_score_bucket');
    expect(panel('Score distribution').targets[0].format).toBe('heatmap');
    const positive = panel('Positive rate against the training rate').targets.map((t: any) => t.expr);
    expect(positive[0]).toContain(R.positiveRatio);
    expect(positive[1]).toContain('model_baseline_positive_rate');
    expect(panel('Top drifting features (PSI)').targets[0].expr).toMatch(/^topk\(5, max by \(feature\) \(model_feature_drift_psi\{/);
    expect(panel('Model version serving').targets[0].expr).toContain('model_info');
    expect(d.annotations.list.find((a: any) => a.name === 'Model version change')?.expr).toContain('model_info');
  });

  it('draws the alert thresholds from thresholds.ts', () => {
    for (const title of ['Top drifting features (PSI)', 'Prediction drift (PSI)']) {
      const p = panel(title);
      expect(p.fieldConfig.defaults.thresholds.steps.map((x: any) => x.value)).toContain(LIMITS.psiWarning);
      expect(p.fieldConfig.defaults.custom.thresholdsStyle.mode).toBe('dashed');
    }
    expect(panel('Scores in the extreme bands').fieldConfig.defaults.thresholds.steps.map((x: any) => x.value)).toContain(LIMITS.collapseBandShare);
    expect(panel('Positive rate against the training rate').targets[2].expr).toContain(`/ ${LIMITS.collapsePositiveRateFactor}`);
  });

  it('never leaves the rare-event panels empty: zero series instead of no data', () => {
    // Out-of-range counters appear with the first such value: a labelled 0 stands in until then.
    expect(panel('Out-of-range inputs/s by feature').targets[0].expr).toContain('or on () label_replace(vector(0), "feature", "none", "", "")');
    // Load-failure counters are created at 0 for every reason when the service starts.
    expect(panel('Refused model loads by reason').targets[0].expr).toContain('model_load_failures_total');
  });
});
