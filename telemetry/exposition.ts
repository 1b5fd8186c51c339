/**
 * The Prometheus text exposition (format 0.0.4) of collected metrics: what both `/metrics`
 * endpoints serve. Its output is byte for byte that of `@opentelemetry/exporter-prometheus`'s
 * `PrometheusSerializer` as the service configures it (no name prefix, no timestamps, no scope
 * labels, `target_info` from the resource, no resource labels copied onto series), which
 * `test/exposition.test.ts` checks on the service's real collection and on the edge cases
 * (escaping, ±Inf, conflicting metadata, histograms with and without a +Inf bound).
 *
 * Why not that serializer: it escapes and joins a series' labels again for every line it writes,
 * and a histogram writes one line per bucket, so a 16-bucket series builds its label text 18
 * times, with an object copy per bucket for the `le` label. Here a data point's labels are built
 * once, the `le` values once per bucket layout, and the label text of a frozen attribute set (the
 * pre-aggregated series' and the drift gauges', which never change) is kept. Serialising was half
 * of a scrape's render time; a slow render is a slow scrape on the one thread that also serves
 * predictions.
 */
import { diag, type Attributes, type AttributeValue } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { DataPointType, type DataPoint, type Histogram, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

type PrometheusType = 'counter' | 'gauge' | 'histogram' | 'untyped';

interface Family {
  /** Undefined once two metrics of one name disagreed on their type: the family is dropped. */
  metadata: { help: string; unit: string; type: PrometheusType } | undefined;
  metrics: MetricData[];
}

const NO_REGISTERED_METRICS = '# no registered metrics';

function escapeString(str: string): string {
  return str.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(value: AttributeValue | undefined = ''): string {
  return escapeString(typeof value === 'string' ? value : JSON.stringify(value)).replace(/"/g, '\\"');
}

/** OpenTelemetry names allow `.` and `-`; Prometheus names do not. */
function sanitizeName(name: string): string {
  return name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
}

function valueString(value: number): string {
  return value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : `${value}`;
}

function typeOf(metric: MetricData): PrometheusType {
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      return metric.isMonotonic ? 'counter' : 'gauge';
    case DataPointType.GAUGE:
      return 'gauge';
    case DataPointType.HISTOGRAM:
      return 'histogram';
    default:
      return 'untyped';
  }
}

/** A family's `# HELP`, `# UNIT` (when it has one) and `# TYPE` lines. */
function header(name: string, help: string, metadata: { unit: string; type: PrometheusType }): string {
  const unit = metadata.unit ? `\n# UNIT ${name} ${escapeString(metadata.unit)}` : '';
  return `# HELP ${name} ${escapeString(help)}${unit}\n# TYPE ${name} ${metadata.type}\n`;
}

/** The warnings already given: a conflict is reported once, not at every scrape. */
type Conflicts = Set<string>;

/** Serialises collected metrics as the Prometheus text exposition. */
export class ExpositionSerializer {
  /** Label text (`a="1",b="2"`) of frozen attribute sets, which cannot change. */
  readonly #labels = new WeakMap<Attributes, string>();
  /** `le` values per bucket layout: the same boundaries array is passed at every collection. */
  readonly #bounds = new WeakMap<readonly number[], { n: number; le: readonly string[] }>();
  readonly #names = new Map<string, string | undefined>();
  #previousConflicts: Conflicts = new Set();

  /** The exposition of `resourceMetrics`. */
  serialize(resourceMetrics: ResourceMetrics): string {
    const conflicts: Conflicts = new Set();
    const families = this.#families(resourceMetrics, conflicts);
    this.#previousConflicts = conflicts;
    let resource = '';
    let out = '';
    for (const [name, family] of families) {
      if (family.metadata === undefined) continue;
      let writeMetadata = true;
      if (name === 'target_info') {
        // The resource is the family's first series, under its metadata.
        resource = this.#resource(resourceMetrics.resource, family.metadata);
        writeMetadata = false;
      }
      for (const metric of family.metrics) {
        const text = this.#metric(metric, name, family.metadata, writeMetadata);
        if (text) {
          out += text + '\n';
          writeMetadata = false;
        }
      }
    }
    if (out === '') out = NO_REGISTERED_METRICS;
    return resource + out;
  }

  #families(resourceMetrics: ResourceMetrics, conflicts: Conflicts): Map<string, Family> {
    const families = new Map<string, Family>([['target_info', { metadata: { help: 'Target metadata', unit: '', type: 'gauge' }, metrics: [] }]]);
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        const name = this.#name(metric);
        if (name === undefined) continue;
        const type = typeOf(metric);
        const family = families.get(name);
        if (family === undefined) {
          families.set(name, { metadata: { help: metric.descriptor.description, unit: metric.descriptor.unit, type }, metrics: [metric] });
          continue;
        }
        if (family.metadata === undefined) continue;
        if (family.metadata.type !== type) {
          this.#conflict(conflicts, 'TYPE', name, family.metadata.type, type, undefined);
          family.metadata = undefined;
          family.metrics = [];
          continue;
        }
        family.metrics.push(metric);
      }
    }
    for (const [name, family] of families) {
      const metadata = family.metadata;
      if (metadata === undefined) continue;
      for (const { descriptor } of family.metrics) {
        const { description: help, unit } = descriptor;
        if (help) {
          if (!metadata.help) metadata.help = help;
          else if (metadata.help !== help) this.#conflict(conflicts, 'HELP', name, metadata.help, help, metadata.help);
        }
        if (unit) {
          if (!metadata.unit) metadata.unit = unit;
          else if (metadata.unit !== unit) this.#conflict(conflicts, 'UNIT', name, metadata.unit, unit, metadata.unit);
        }
      }
    }
    return families;
  }

  #conflict(conflicts: Conflicts, kind: string, name: string, first: string, second: string, selected: string | undefined): void {
    const key = `${kind}:${name}:${selected ?? ''}`;
    if (conflicts.has(key)) return;
    conflicts.add(key);
    if (this.#previousConflicts.has(key)) return;
    const values = `${JSON.stringify(first)}, ${JSON.stringify(second)}`;
    if (selected === undefined) diag.warn(`Conflicting ${kind} comments for metric "${name}": ${values}; dropping the metric.`);
    else diag.warn(`Conflicting ${kind} comments for metric "${name}": ${values}; exporting ${JSON.stringify(selected)}.`);
  }

  /** The Prometheus name: sanitised, `_total` on monotonic sums; undefined when nothing valid is left. */
  #name(metric: MetricData): string | undefined {
    const counter = metric.dataPointType === DataPointType.SUM && metric.isMonotonic;
    const key = `${counter ? 'c' : 'o'}${metric.descriptor.name}`;
    if (this.#names.has(key)) return this.#names.get(key);
    let name: string | undefined = sanitizeName(escapeString(metric.descriptor.name));
    if (name === '' || name === '_') {
      diag.error(`Normalization for metric "${metric.descriptor.name}" resulted in ${name === '' ? 'empty name' : 'an invalid name: "_"'}`);
      name = undefined;
    } else {
      if (name[0]! >= '0' && name[0]! <= '9') name = `_${name}`;
      if (counter && !name.endsWith('_total')) name += '_total';
    }
    this.#names.set(key, name);
    return name;
  }

  #metric(metric: MetricData, name: string, metadata: NonNullable<Family['metadata']>, writeMetadata: boolean): string {
    let lines = '';
    switch (metric.dataPointType) {
      case DataPointType.SUM:
      case DataPointType.GAUGE:
        for (const point of metric.dataPoints as DataPoint<number>[]) lines += this.#line(name, this.#labelsOf(point.attributes), point.value);
        break;
      case DataPointType.HISTOGRAM:
        for (const point of metric.dataPoints as DataPoint<Histogram>[]) lines += this.#histogram(name, point);
        break;
      default:
        diag.error(`Unrecognizable DataPointType: ${(metric as { dataPointType: unknown }).dataPointType} for metric "${name}"`);
    }
    if (!writeMetadata) return lines.trim();
    return `${header(name, metadata.help || 'description missing', metadata)}${lines}`.trim();
  }

  /** One sample line; `labels` is the label text without braces ('' for none). */
  #line(name: string, labels: string, value: number): string {
    return labels ? `${name}{${labels}} ${valueString(value)}\n` : `${name} ${valueString(value)}\n`;
  }

  #histogram(name: string, point: DataPoint<Histogram>): string {
    const labels = this.#labelsOf(point.attributes);
    const h = point.value;
    let out = '';
    if (h.count != null) out += this.#line(`${name}_count`, labels, h.count);
    if (h.sum != null) out += this.#line(`${name}_sum`, labels, h.sum);
    const { boundaries, counts } = h.buckets;
    const le = this.#leValues(boundaries, counts.length);
    const bucket = `${name}_bucket{${labels ? `${labels},` : ''}le="`;
    let cumulative = 0;
    for (let i = 0; i < le.length; i++) {
      cumulative += counts[i]!;
      out += `${bucket}${le[i]}"} ${valueString(cumulative)}\n`;
    }
    return out;
  }

  /**
   * The `le` value of each bucket written for `n` counts, kept per boundaries array. As
   * upstream: past an explicit +Inf bound no further bucket is written, and a count with no bound
   * of its own is the +Inf bucket.
   */
  #leValues(boundaries: readonly number[], n: number): readonly string[] {
    const cached = this.#bounds.get(boundaries);
    if (cached !== undefined && cached.n === n) return cached.le;
    const le: string[] = [];
    let infinite = false;
    for (let i = 0; i < n; i++) {
      const b = boundaries[i];
      if (b === undefined && infinite) break;
      if (b === Infinity) infinite = true;
      le.push(b === undefined || b === Infinity ? '+Inf' : String(b));
    }
    this.#bounds.set(boundaries, { n, le });
    return le;
  }

  #labelsOf(attributes: Attributes): string {
    const frozen = Object.isFrozen(attributes);
    if (frozen) {
      const cached = this.#labels.get(attributes);
      if (cached !== undefined) return cached;
    }
    let text = '';
    for (const [key, value] of Object.entries(attributes)) text += `${text ? ',' : ''}${sanitizeName(key)}="${escapeLabelValue(value)}"`;
    if (frozen) this.#labels.set(attributes, text);
    return text;
  }

  #resource(resource: Resource, metadata: NonNullable<Family['metadata']>): string {
    return header('target_info', metadata.help, metadata) + this.#line('target_info', this.#labelsOf(resource.attributes), 1);
  }
}
