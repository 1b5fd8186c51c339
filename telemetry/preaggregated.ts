/**
 * Pre-aggregated instruments for the request path, exported through the SDK's readers as a
 * `MetricProducer`.
 *
 * Why not the SDK's own Counter and Histogram: every `add`/`record` call in
 * `@opentelemetry/sdk-metrics` finds its series by hashing the attributes (`Object.keys`, `sort`,
 * `JSON.stringify`) and converts `Date.now()` to an HrTime, about 0.3-1 µs per call and a few
 * short-lived objects, and a single-row request makes four such calls. Here a label set is bound
 * once to a series object, and recording is an addition (a counter) or a short bucket scan (a
 * histogram) on that object: no hashing, no allocation.
 *
 * The data still leaves as OpenTelemetry `MetricData` through the same readers (the Prometheus
 * exporter and the OTLP periodic reader), so the pull and push paths see the same instruments,
 * names, units, descriptions and buckets as before. Each reader gets its own producer, which
 * honours that reader's temporality preference: cumulative by default, delta when the OTLP
 * exporter is configured for it (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  InstrumentType,
  type CollectionResult,
  type DataPoint,
  type Histogram,
  type MetricData,
  type MetricDescriptor,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';

/** What a pre-aggregated instrument is: name, unit and description, as in the instrument table. */
export interface PreaggregatedSpec {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
}

/** A counter's series for one label set. */
export interface CounterSeries {
  /** Adds a non-negative amount. */
  add(value: number): void;
}

/** A histogram's series for one label set. */
export interface HistogramSeries {
  record(value: number): void;
}

/** A series that records nothing, for when no reader exports the instruments. */
export const NOOP_SERIES: CounterSeries & HistogramSeries = { add() {}, record() {} };

class CounterState implements CounterSeries {
  value = 0;
  readonly attributes: Attributes;
  readonly start: HrTime;
  constructor(attributes: Attributes) {
    this.attributes = attributes;
    this.start = hrTime();
  }
  add(value: number): void {
    // Like the SDK: a negative increment would break monotonicity, so it is dropped.
    if (value >= 0) this.value += value;
  }
}

class HistogramState implements HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  min = Infinity;
  max = -Infinity;
  readonly attributes: Attributes;
  readonly start: HrTime;
  private readonly bounds: Float64Array;
  constructor(attributes: Attributes, bounds: Float64Array) {
    this.attributes = attributes;
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
    this.start = hrTime();
  }
  record(value: number): void {
    if (Number.isNaN(value)) return;
    // Buckets are upper-inclusive (le), as in OpenTelemetry and Prometheus. Latencies and scores
    // fall mostly in the first buckets, so a linear scan beats a binary search here.
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }
  /**
   * Replaces the whole state with one aggregated elsewhere (`telemetry/gc.ts`: V8's GC pauses,
   * counted in native memory): `[count, sum, min, max, ...bucket counts]`, the buckets laid out as
   * this series' own.
   */
  load(snapshot: Float64Array): void {
    this.count = snapshot[0]!;
    this.sum = snapshot[1]!;
    this.min = snapshot[2]!;
    this.max = snapshot[3]!;
    this.counts.set(snapshot.subarray(4, 4 + this.counts.length));
  }
}

/** The series of one instrument, keyed by the caller's binding; attributes are frozen copies. */
abstract class Instrument<S> {
  readonly spec: PreaggregatedSpec;
  /** Built once: every collection passes the same object, as the SDK's storages do. */
  readonly descriptor: MetricDescriptor;
  readonly series: S[] = [];
  constructor(spec: PreaggregatedSpec, type: InstrumentType) {
    this.spec = spec;
    this.descriptor = descriptor(spec, type);
  }
  /** A new series for `attributes`. Callers bind each label set once and keep the series. */
  bind(attributes: Attributes): S {
    const s = this.create(Object.freeze({ ...attributes }));
    this.series.push(s);
    return s;
  }
  protected abstract create(attributes: Attributes): S;
}

/** A monotonic counter. */
export class PreaggregatedCounter extends Instrument<CounterState> {
  constructor(spec: PreaggregatedSpec) {
    super(spec, InstrumentType.COUNTER);
  }
  protected create(attributes: Attributes): CounterState {
    return new CounterState(attributes);
  }
}

/** An explicit-bucket histogram. */
export class PreaggregatedHistogram extends Instrument<HistogramState> {
  readonly boundaries: readonly number[];
  private readonly bounds: Float64Array;
  constructor(spec: PreaggregatedSpec & { readonly buckets: readonly number[] }) {
    super(spec, InstrumentType.HISTOGRAM);
    // Frozen and shared by every data point: the exposition keeps its `le` values per array.
    this.boundaries = Object.freeze([...spec.buckets]);
    this.bounds = Float64Array.from(spec.buckets);
  }
  protected create(attributes: Attributes): HistogramState {
    return new HistogramState(attributes, this.bounds);
  }
}

/** Chooses a temporality per instrument type, as a reader's exporter does. */
export type TemporalitySelector = (type: InstrumentType) => AggregationTemporality;

const CUMULATIVE: TemporalitySelector = () => AggregationTemporality.CUMULATIVE;

/** Options for {@link PreaggregatedMetrics}. */
export interface PreaggregatedOptions {
  /** The instrumentation scope the data is reported under. */
  scope?: string;
}

/** The registry of pre-aggregated instruments, and the producers that export them. */
export class PreaggregatedMetrics {
  private readonly counters: PreaggregatedCounter[] = [];
  private readonly histograms: PreaggregatedHistogram[] = [];
  private readonly beforeCollect: (() => void)[] = [];
  private readonly scope: string;

  constructor(opts: PreaggregatedOptions = {}) {
    this.scope = opts.scope ?? 'inference-api';
  }

  /** Creates a counter. */
  counter(spec: PreaggregatedSpec): PreaggregatedCounter {
    const c = new PreaggregatedCounter(spec);
    this.counters.push(c);
    return c;
  }

  /** Creates a histogram. */
  histogram(spec: PreaggregatedSpec & { readonly buckets: readonly number[] }): PreaggregatedHistogram {
    const h = new PreaggregatedHistogram(spec);
    this.histograms.push(h);
    return h;
  }

  /**
   * Runs `sync` at the start of every collection, by every producer: for series whose values are
   * kept elsewhere and copied in ({@link HistogramState.load}) only when they are read.
   */
  onCollect(sync: () => void): void {
    this.beforeCollect.push(sync);
  }

  /**
   * A producer for one reader (`metricProducers: [registry.producer(selector)]`). Each reader
   * needs its own: under delta temporality the producer remembers what it last exported.
   */
  producer(temporality: TemporalitySelector = CUMULATIVE): MetricProducer {
    const counterTemporality = temporality(InstrumentType.COUNTER);
    const histogramTemporality = temporality(InstrumentType.HISTOGRAM);
    // Delta: the state at the previous collection, per series, and when that was.
    const lastCounter = new WeakMap<CounterState, number>();
    const lastHistogram = new WeakMap<HistogramState, { counts: Float64Array; sum: number; count: number }>();
    let lastCollect: HrTime | undefined;
    return {
      collect: async (): Promise<CollectionResult> => {
        for (const sync of this.beforeCollect) sync();
        const now = hrTime();
        const metrics: MetricData[] = [];
        for (const c of this.counters) {
          const dataPoints: DataPoint<number>[] = [];
          for (const s of c.series) {
            let value = s.value;
            let start = s.start;
            if (counterTemporality === AggregationTemporality.DELTA) {
              const prev = lastCounter.get(s);
              lastCounter.set(s, s.value);
              if (prev !== undefined) {
                value -= prev;
                if (value === 0) continue;
                start = lastCollect ?? s.start;
              }
            }
            dataPoints.push({ attributes: s.attributes, startTime: start, endTime: now, value });
          }
          if (dataPoints.length === 0) continue;
          metrics.push({
            descriptor: c.descriptor,
            aggregationTemporality: counterTemporality,
            dataPointType: DataPointType.SUM,
            dataPoints,
            isMonotonic: true,
          });
        }
        for (const h of this.histograms) {
          const dataPoints: DataPoint<Histogram>[] = [];
          for (const s of h.series) {
            let counts = smiCounts(s.counts);
            let { sum, count } = s;
            let start = s.start;
            const hasMinMax = s.count > 0;
            if (histogramTemporality === AggregationTemporality.DELTA) {
              const prev = lastHistogram.get(s);
              lastHistogram.set(s, { counts: Float64Array.from(s.counts), sum: s.sum, count: s.count });
              if (prev) {
                count -= prev.count;
                if (count === 0) continue;
                counts = counts.map((n, i) => n - prev.counts[i]!);
                sum -= prev.sum;
                start = lastCollect ?? s.start;
              }
            }
            // Min and max are over the series' life: a delta interval's own extremes are not kept.
            const minMax = hasMinMax && histogramTemporality === AggregationTemporality.CUMULATIVE;
            dataPoints.push({
              attributes: s.attributes,
              startTime: start,
              endTime: now,
              value: {
                min: minMax ? s.min : undefined,
                max: minMax ? s.max : undefined,
                sum,
                buckets: { boundaries: h.boundaries as number[], counts },
                count,
              },
            });
          }
          if (dataPoints.length === 0) continue;
          metrics.push({
            descriptor: h.descriptor,
            aggregationTemporality: histogramTemporality,
            dataPointType: DataPointType.HISTOGRAM,
            dataPoints,
          });
        }
        lastCollect = now;
        return {
          // The reader replaces this with the SDK's resource.
          resourceMetrics: { resource: emptyResource(), scopeMetrics: metrics.length ? [{ scope: { name: this.scope }, metrics }] : [] },
          errors: [],
        };
      },
    };
  }
}

/**
 * The descriptor, with the fields and field order of the SDK's own (`createInstrumentDescriptor`):
 * the serializers then see one object shape for every metric, whichever produced it. A second
 * shape made V8 throw away optimised render code the first time real traffic's series were
 * collected (a "wrong map" deoptimisation of `#name` in `exposition.ts`, seen with
 * `--trace-deopt`), code the start-up warm-up had compiled without them.
 */
function descriptor(spec: PreaggregatedSpec, type: InstrumentType): MetricDescriptor {
  // Through a variable: the exported MetricDescriptor type lists neither `type` nor `advice`.
  const d = { name: spec.name, type, description: spec.description, unit: spec.unit, valueType: ValueType.DOUBLE, advice: {} };
  return d;
}

/** A plain array of the counts, as the SDK's histograms hold them (small integers, not doubles). */
function smiCounts(counts: Float64Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < counts.length; i++) out.push(counts[i]!);
  return out;
}
