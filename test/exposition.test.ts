import { describe, expect, it } from 'vitest';
import { ValueType, type Attributes } from '@opentelemetry/api';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { HostMetricsInstrumentation } from '@opentelemetry/instrumentation-host-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  type DataPoint,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { ExpositionSerializer } from '../telemetry/exposition.ts';
import { createServiceMetrics } from '../telemetry/metrics.ts';
import { PreaggregatedMetrics } from '../telemetry/preaggregated.ts';
import { RuntimeInstrumentation } from '../telemetry/runtime.ts';
import { PrometheusPullExporter } from '../telemetry/sdk.ts';
import { createQualityMonitor } from '../src/model/quality.ts';
import { DEFAULT_DRIFT_OPTIONS } from '../src/model/drift.ts';
import { datasetRows, loadBundledModel } from './helpers/app.ts';

/** Upstream's serializer as the service used to configure it: no prefix, no timestamps, no scope labels. */
const upstream = () => new PrometheusSerializer('', false, undefined, false, true);

const T: [number, number] = [1_700_000_000, 0];
const point = <V>(attributes: Attributes, value: V): DataPoint<V> => ({ startTime: T, endTime: T, attributes, value });
const desc = (name: string, description = 'what it is', unit = '') => ({ name, description, unit, valueType: ValueType.DOUBLE });
const sum = (name: string, monotonic: boolean, points: DataPoint<number>[], description?: string, unit?: string): MetricData => ({
  descriptor: desc(name, description, unit),
  aggregationTemporality: AggregationTemporality.CUMULATIVE,
  dataPointType: DataPointType.SUM,
  isMonotonic: monotonic,
  dataPoints: points,
});
const gauge = (name: string, points: DataPoint<number>[], description?: string, unit?: string): MetricData => ({
  descriptor: desc(name, description, unit),
  aggregationTemporality: AggregationTemporality.CUMULATIVE,
  dataPointType: DataPointType.GAUGE,
  dataPoints: points,
});
const histogram = (name: string, points: DataPoint<Histogram>[]): MetricData => ({
  descriptor: desc(name, 'a histogram', 's'),
  aggregationTemporality: AggregationTemporality.CUMULATIVE,
  dataPointType: DataPointType.HISTOGRAM,
  dataPoints: points,
});
const resourceMetrics = (attributes: Attributes, ...scopes: MetricData[][]): ResourceMetrics => ({
  resource: resourceFromAttributes(attributes),
  scopeMetrics: scopes.map((metrics, i) => ({ scope: { name: `scope-${i}` }, metrics })),
});

describe('the exposition serializer', () => {
  it('writes what upstream writes for the edge cases of names, labels, values and metadata', () => {
    const frozen = Object.freeze({ method: 'POST', endpoint: '/predict' });
    const bounds = [0.1, 1, 10];
    const rm = resourceMetrics(
      { 'service.name': 'svc "q" \\ x\ny', 'service.version': '1.0' },
      [
        sum('api.request-count', true, [point(frozen, 3), point({ k: 'a"b\\c\nd' }, 1), point({}, 0)]),
        sum('already_total', true, [point({ n: 1, b: true, arr: ['x', 2] } as unknown as Attributes, 2)]),
        sum('updown', false, [point({ dotted_key: 'v' }, -4)], 'help with \\ and \n newline', 'By'),
        gauge('1starts_with_digit', [point({}, Infinity), point({ s: 'neg' }, -Infinity), point({ s: 'nan' }, Number.NaN)]),
        gauge('no_points', []),
        gauge('no_description', [point({}, 0.5)], ''),
        histogram('latency', [
          point(frozen, { count: 6, sum: 12.5, buckets: { boundaries: bounds, counts: [1, 2, 0, 3] } }),
          point({}, { count: 2, buckets: { boundaries: [1, Infinity], counts: [1, 1, 0] } }),
          point({ empty: '' }, { count: 0, sum: 0, buckets: { boundaries: [], counts: [0] } }),
        ]),
        gauge('same_name', [point({ a: '1' }, 1)], 'first help', 'ms'),
      ],
      [
        // The same family again from another scope: its points follow; a different help is a conflict.
        gauge('same_name', [point({ a: '2' }, 2)], 'second help', 's'),
        // A type conflict drops the whole family.
        gauge('conflict', [point({}, 1)]),
        sum('no_points', true, []),
        sum('conflict', true, [point({}, 1)]),
        gauge('___', [point({}, 1)]),
      ],
    );
    const ours = new ExpositionSerializer();
    const expected = upstream().serialize(rm);
    expect(ours.serialize(rm)).toBe(expected);
    // Again, now from the caches of label text, names and bucket bounds.
    expect(ours.serialize(rm)).toBe(expected);
    expect(expected).toContain('api_request_count_total{method="POST",endpoint="/predict"} 3');
    expect(expected).toContain('latency_bucket{method="POST",endpoint="/predict",le="+Inf"} 6');
  });

  it('writes what upstream writes when there is nothing, or only a target', () => {
    const ours = new ExpositionSerializer();
    for (const rm of [resourceMetrics({}), resourceMetrics({ a: 'b' }, []), resourceMetrics({}, [gauge('x', [])])]) {
      expect(ours.serialize(rm)).toBe(upstream().serialize(rm));
    }
  });

  it("writes what upstream writes for the service's own collection: request, prediction, quality, runtime and process metrics", async () => {
    const pre = new PreaggregatedMetrics();
    const exporter = new PrometheusPullExporter({ preventServerStart: true, withoutScopeInfo: true, metricProducers: [pre.producer()] });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'inference-api', 'service.version': '0.1.0' }), readers: [exporter] });
    const model = await loadBundledModel();
    let quality: ReturnType<typeof createQualityMonitor> | undefined;
    const metrics = createServiceMetrics(provider.getMeter('inference-api'), {
      preaggregated: pre,
      currentModel: () => ({ name: model.name, version: model.version, baselinePositiveRate: 0.37 }),
      drift: () => quality!.drift(model),
    });
    quality = createQualityMonitor(metrics, { enabled: true, ...DEFAULT_DRIFT_OPTIONS, maxRowsPerSecond: 0 });
    const instrumentations = [new RuntimeInstrumentation(), new HostMetricsInstrumentation({ metricGroups: ['process.cpu', 'process.memory'] })];
    for (const i of instrumentations) {
      i.setMeterProvider(provider);
      i.enable();
    }
    const { rows } = datasetRows();
    const feed = (n: number) => {
      for (let i = 0; i < n; i++) {
        const data = Float32Array.from(rows[i % rows.length]!);
        if (i % 7 === 0) data[3] = 1e9; // out of range
        const scores = Float32Array.of((i % 100) / 100);
        quality!.observe(model, data, 1, scores);
        metrics.recordPredictions(model.version, model.card.output, scores[0]! >= 0.5 ? 1 : 0, scores[0]! >= 0.5 ? 0 : 1);
        metrics.recordRequest('POST', '/predict', i % 11 === 0 ? 422 : 200, (i % 13) / 1000);
        metrics.recordRequest('GET', 'unmatched', 404, 0.0001);
      }
    };
    const ours = new ExpositionSerializer();
    const reference = upstream();
    try {
      for (const n of [300, 50]) {
        feed(n);
        // The event loop delay gauges need a few samples of the 10 ms monitor.
        await new Promise((r) => setTimeout(r, 120));
        const { resourceMetrics: rm, errors } = await exporter.collect();
        expect(errors).toEqual([]);
        const expected = reference.serialize(rm);
        expect(expected).toContain('nodejs_eventloop_delay_p99');
        expect(expected).toContain('model_feature_drift_psi{feature=');
        expect(ours.serialize(rm)).toBe(expected);
      }
    } finally {
      for (const i of instrumentations) i.disable();
      await provider.shutdown();
    }
  });
});
