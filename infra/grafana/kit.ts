/**
 * A small typed builder for Grafana dashboard JSON (schema 39, Grafana 11/12). Only what the
 * dashboards here use; the output is plain JSON that Grafana provisions from files.
 */

/** Datasource uids, fixed in provisioning/datasources/datasources.yml. */
export const DATASOURCE_UIDS = { prometheus: 'prometheus', alertmanager: 'alertmanager' } as const;

export interface DatasourceRef {
  readonly type: 'prometheus' | 'alertmanager' | 'datasource' | 'grafana';
  readonly uid: string;
}

/** Panels query the datasource picked in the `datasource` variable (default: the provisioned Prometheus). */
export const PROM: DatasourceRef = { type: 'prometheus', uid: '${datasource}' };

export interface Target {
  readonly refId: string;
  readonly datasource: DatasourceRef;
  readonly expr: string;
  readonly legendFormat: string;
  readonly range: boolean;
  readonly instant: boolean;
  readonly format?: 'time_series' | 'heatmap' | 'table';
}

export interface GridPos {
  readonly h: number;
  readonly w: number;
  readonly x: number;
  readonly y: number;
}

export interface Threshold {
  readonly color: string;
  readonly value: number | null;
}

export interface Panel {
  readonly id: number;
  readonly type: 'row' | 'stat' | 'timeseries' | 'heatmap' | 'state-timeline';
  readonly title: string;
  readonly gridPos: GridPos;
  readonly description?: string;
  readonly datasource?: DatasourceRef;
  readonly targets?: readonly Target[];
  readonly fieldConfig?: unknown;
  readonly options?: unknown;
  readonly collapsed?: boolean;
  readonly panels?: readonly Panel[];
  readonly timeFrom?: string;
}

/** A panel before layout: ids and positions are assigned by `layout`. */
export type PanelSpec = Omit<Panel, 'id' | 'gridPos'> & { readonly w: number; readonly h: number };

export interface Query {
  readonly expr: string;
  readonly legend?: string;
  /** An instant query (stat panels): one value, not a series. */
  readonly instant?: boolean;
  readonly format?: Target['format'];
}

function targets(queries: readonly Query[]): Target[] {
  return queries.map((q, i) => ({
    refId: String.fromCharCode(65 + i),
    datasource: PROM,
    expr: q.expr,
    legendFormat: q.legend ?? '__auto',
    range: !q.instant,
    instant: q.instant ?? false,
    ...(q.format ? { format: q.format } : {}),
  }));
}

function thresholdSteps(steps: readonly Threshold[] | undefined): { mode: 'absolute'; steps: Threshold[] } {
  return { mode: 'absolute', steps: [...(steps ?? [{ color: 'green', value: null }])] };
}

export interface CommonOptions {
  readonly title: string;
  readonly description?: string;
  readonly queries: readonly Query[];
  readonly unit?: string;
  readonly w?: number;
  readonly h?: number;
  readonly thresholds?: readonly Threshold[];
  readonly min?: number;
  readonly max?: number;
  readonly decimals?: number;
}

export function row(title: string): PanelSpec {
  return { type: 'row', title, collapsed: false, panels: [], w: 24, h: 1 };
}

export function stat(o: CommonOptions & { mappings?: unknown[]; textMode?: 'value' | 'name' | 'value_and_name'; colorMode?: 'value' | 'background' | 'none'; timeFrom?: string }): PanelSpec {
  return {
    type: 'stat',
    title: o.title,
    ...(o.description ? { description: o.description } : {}),
    datasource: PROM,
    targets: targets(o.queries.map((q) => ({ instant: true, ...q }))),
    fieldConfig: {
      defaults: {
        unit: o.unit ?? 'none',
        ...(o.decimals !== undefined ? { decimals: o.decimals } : {}),
        ...(o.min !== undefined ? { min: o.min } : {}),
        ...(o.max !== undefined ? { max: o.max } : {}),
        mappings: o.mappings ?? [],
        thresholds: thresholdSteps(o.thresholds),
        color: { mode: 'thresholds' },
      },
      overrides: [],
    },
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: o.colorMode ?? 'value',
      graphMode: 'none',
      justifyMode: 'auto',
      orientation: 'auto',
      textMode: o.textMode ?? 'value',
      wideLayout: true,
      showPercentChange: false,
    },
    ...(o.timeFrom ? { timeFrom: o.timeFrom } : {}),
    w: o.w ?? 4,
    h: o.h ?? 4,
  };
}

export function timeseries(o: CommonOptions & { thresholdsStyle?: 'off' | 'line' | 'dashed' | 'line+area'; stack?: boolean }): PanelSpec {
  return {
    type: 'timeseries',
    title: o.title,
    ...(o.description ? { description: o.description } : {}),
    datasource: PROM,
    targets: targets(o.queries),
    fieldConfig: {
      defaults: {
        unit: o.unit ?? 'none',
        ...(o.decimals !== undefined ? { decimals: o.decimals } : {}),
        ...(o.min !== undefined ? { min: o.min } : {}),
        ...(o.max !== undefined ? { max: o.max } : {}),
        thresholds: thresholdSteps(o.thresholds),
        color: { mode: 'palette-classic' },
        custom: {
          drawStyle: 'line',
          lineWidth: 1,
          fillOpacity: o.stack ? 30 : 10,
          showPoints: 'never',
          spanNulls: false,
          stacking: { mode: o.stack ? 'normal' : 'none', group: 'A' },
          thresholdsStyle: { mode: o.thresholdsStyle ?? 'off' },
        },
      },
      overrides: [],
    },
    options: {
      legend: { displayMode: 'list', placement: 'bottom', showLegend: true, calcs: [] },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
    w: o.w ?? 12,
    h: o.h ?? 8,
  };
}

export function heatmap(o: CommonOptions): PanelSpec {
  return {
    type: 'heatmap',
    title: o.title,
    ...(o.description ? { description: o.description } : {}),
    datasource: PROM,
    targets: targets(o.queries.map((q) => ({ format: 'heatmap', legend: '{{le}}', ...q }))),
    fieldConfig: { defaults: { custom: { scaleDistribution: { type: 'linear' } } }, overrides: [] },
    options: {
      calculate: false,
      cellGap: 1,
      color: { mode: 'scheme', scheme: 'Oranges', scale: 'exponential', exponent: 0.5, steps: 64, fill: 'dark-orange', reverse: false },
      yAxis: { axisPlacement: 'left', unit: o.unit ?? 's', reverse: false },
      rowsFrame: { layout: 'auto' },
      tooltip: { mode: 'single', yHistogram: false, showColorScale: false },
      legend: { show: true },
      exemplars: { color: 'rgba(255,0,255,0.7)' },
      filterValues: { le: 1e-9 },
    },
    w: o.w ?? 12,
    h: o.h ?? 8,
  };
}

export function stateTimeline(o: CommonOptions): PanelSpec {
  return {
    type: 'state-timeline',
    title: o.title,
    ...(o.description ? { description: o.description } : {}),
    datasource: PROM,
    targets: targets(o.queries),
    fieldConfig: {
      defaults: { color: { mode: 'palette-classic' }, thresholds: thresholdSteps(o.thresholds), custom: { fillOpacity: 70, lineWidth: 0 } },
      overrides: [],
    },
    options: { showValue: 'never', mergeValues: true, alignValue: 'left', rowHeight: 0.9, legend: { showLegend: false, displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'single', sort: 'none' } },
    w: o.w ?? 12,
    h: o.h ?? 8,
  };
}

/** Lays panels out left to right, wrapping at 24 columns; a row starts a new line. Ids are 1, 2, ... */
export function layout(specs: readonly PanelSpec[]): Panel[] {
  const out: Panel[] = [];
  let x = 0;
  let y = 0;
  let lineHeight = 0;
  for (const [i, spec] of specs.entries()) {
    const { w, h, ...rest } = spec;
    if (spec.type === 'row' || x + w > 24) {
      y += lineHeight;
      x = 0;
      lineHeight = 0;
    }
    out.push({ id: i + 1, ...rest, gridPos: { h, w, x, y } });
    x += w;
    lineHeight = Math.max(lineHeight, h);
    if (spec.type === 'row') {
      y += h;
      x = 0;
      lineHeight = 0;
    }
  }
  return out;
}

/** The `datasource` variable: any Prometheus, defaulting to the provisioned one. */
export function datasourceVariable(): unknown {
  return {
    name: 'datasource',
    label: 'Data source',
    type: 'datasource',
    query: 'prometheus',
    current: { selected: false, text: 'Prometheus', value: DATASOURCE_UIDS.prometheus },
    hide: 0,
    includeAll: false,
    multi: false,
    options: [],
    refresh: 1,
    regex: '',
    skipUrlSync: false,
  };
}

/** A variable filled from `label_values(<selector>, <label>)`, refreshed when the time range changes. */
export function queryVariable(o: {
  name: string;
  label: string;
  selector: string;
  labelName: string;
  includeAll?: boolean;
  current?: { text: string; value: string };
}): unknown {
  const definition = `label_values(${o.selector}, ${o.labelName})`;
  return {
    name: o.name,
    label: o.label,
    type: 'query',
    datasource: PROM,
    definition,
    query: { qryType: 1, query: definition, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    refresh: 2,
    regex: '',
    sort: 1,
    hide: 0,
    includeAll: o.includeAll ?? false,
    multi: o.includeAll ?? false,
    ...(o.includeAll ? { allValue: '.*' } : {}),
    current: o.current ?? (o.includeAll ? { selected: true, text: ['All'], value: ['$__all'] } : {}),
    options: [],
    skipUrlSync: false,
  };
}

export interface Annotation {
  readonly name: string;
  readonly expr: string;
  readonly titleFormat: string;
  readonly textFormat: string;
  readonly tagKeys: string;
  readonly iconColor: string;
}

/** Grafana's built-in annotation list entry plus Prometheus annotations. */
export function annotationList(extra: readonly Annotation[]): unknown {
  return {
    list: [
      {
        builtIn: 1,
        datasource: { type: 'grafana', uid: '-- Grafana --' },
        enable: true,
        hide: true,
        iconColor: 'rgba(0, 211, 255, 1)',
        name: 'Annotations & Alerts',
        type: 'dashboard',
      },
      ...extra.map((a) => ({
        datasource: PROM,
        enable: true,
        hide: false,
        iconColor: a.iconColor,
        name: a.name,
        expr: a.expr,
        step: '60s',
        titleFormat: a.titleFormat,
        textFormat: a.textFormat,
        tagKeys: a.tagKeys,
        useValueForTime: false,
      })),
    ],
  };
}

export interface DashboardOptions {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly variables: readonly unknown[];
  readonly panels: readonly PanelSpec[];
  readonly annotations?: readonly Annotation[];
  readonly time?: { from: string; to: string };
  readonly links?: readonly unknown[];
}

export function dashboard(o: DashboardOptions): Record<string, unknown> {
  return {
    uid: o.uid,
    title: o.title,
    description: o.description,
    tags: o.tags,
    editable: false,
    graphTooltip: 1,
    timezone: 'browser',
    refresh: '30s',
    time: o.time ?? { from: 'now-6h', to: 'now' },
    timepicker: {},
    schemaVersion: 39,
    version: 1,
    fiscalYearStartMonth: 0,
    liveNow: false,
    links: o.links ?? [],
    annotations: annotationList(o.annotations ?? []),
    templating: { list: o.variables },
    panels: layout(o.panels),
  };
}

/** Serialized as committed: two-space JSON with a final newline. */
export function toJson(d: unknown): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}
