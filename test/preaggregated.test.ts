import { describe, expect, it } from 'vitest';
import { AggregationTemporality, DataPointType, MeterProvider, type HistogramMetricData, type MetricData, type SumMetricData } from '@opentelemetry/sdk-metrics';
import { PrometheusPullExporter, prometheusRenderer } from '../telemetry/sdk.ts';
import { PreaggregatedMetrics } from '../telemetry/preaggregated.ts';
import { INSTRUMENTS } from '../telemetry/instruments.ts';

const values = [0, 0.0005, 0.0004, 0.001, 0.0011, 0.2, 0.2000001, 3, 10, 11, 0.05, 0.05];

describe('pre-aggregated instruments', () => {
  it('render exactly as the SDK renders the same counter and histogram', async () => {
    // The SDK's own instruments...
    const sdkExporter = new PrometheusPullExporter({ preventServerStart: true, withoutScopeInfo: true });
    const sdk = new MeterProvider({ readers: [sdkExporter] });
    const meter = sdk.getMeter('inference-api');
    const t = INSTRUMENTS;
    const counter = meter.createCounter(t.requests.name, { unit: t.requests.unit, description: t.requests.description });
    const hist = meter.createHistogram(t.requestDuration.name, {
      unit: t.requestDuration.unit,
      description: t.requestDuration.description,
      advice: { explicitBucketBoundaries: [...t.requestDuration.buckets] },
    });
    // ...and the pre-aggregated ones, fed the same values.
    const pre = new PreaggregatedMetrics();
    const preExporter = new PrometheusPullExporter({ preventServerStart: true, withoutScopeInfo: true, metricProducers: [pre.producer()] });
    const empty = new MeterProvider({ readers: [preExporter] });
    const c = pre.counter(t.requests).bind({ method: 'POST', endpoint: '/predict', http_status: '200' });
    const h = pre.histogram(t.requestDuration).bind({ method: 'POST', endpoint: '/predict' });
    for (const v of values) {
      counter.add(1, { method: 'POST', endpoint: '/predict', http_status: '200' });
      hist.record(v, { method: 'POST', endpoint: '/predict' });
      c.add(1);
      h.record(v);
    }
    const fromSdk = await prometheusRenderer(sdkExporter)();
    const fromPre = await prometheusRenderer(preExporter)();
    expect(fromPre).toBe(fromSdk);
    expect(fromPre).toContain('api_request_duration_seconds_bucket{method="POST",endpoint="/predict",le="0.0005"} 3');
    expect(fromPre).toContain('api_request_total{method="POST",endpoint="/predict",http_status="200"} 12');
    await Promise.all([sdk.shutdown(), empty.shutdown()]);
  });

  it('drops what the SDK drops: NaN observations and negative increments', async () => {
    const pre = new PreaggregatedMetrics();
    const c = pre.counter({ name: 'c_total', unit: '', description: '' }).bind({});
    const h = pre.histogram({ name: 'h', unit: '', description: '', buckets: [1] }).bind({});
    c.add(2);
    c.add(-1);
    h.record(Number.NaN);
    h.record(2);
    const { resourceMetrics } = await pre.producer().collect();
    const [sum, histogram] = resourceMetrics.scopeMetrics[0]!.metrics as [SumMetricData, HistogramMetricData];
    expect(sum.dataPoints[0]!.value).toBe(2);
    expect(histogram.dataPoints[0]!.value).toMatchObject({ count: 1, sum: 2, min: 2, max: 2, buckets: { boundaries: [1], counts: [0, 1] } });
  });

  it('a delta producer exports what changed since its last collection, a cumulative one everything', async () => {
    const pre = new PreaggregatedMetrics();
    const counter = pre.counter({ name: 'c_total', unit: '', description: '' });
    const a = counter.bind({ k: 'a' });
    const b = counter.bind({ k: 'b' });
    const h = pre.histogram({ name: 'h', unit: 's', description: '', buckets: [1, 2] }).bind({});
    const delta = pre.producer(() => AggregationTemporality.DELTA);
    const cumulative = pre.producer();
    a.add(3);
    h.record(0.5);
    h.record(1.5);
    const points = async (p: typeof delta) => {
      const metrics = (await p.collect()).resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
      return metrics.map((m) => ({
        name: m.descriptor.name,
        temporality: m.aggregationTemporality,
        values: m.dataPointType === DataPointType.SUM ? m.dataPoints.map((d) => [d.attributes.k, d.value]) : (m as HistogramMetricData).dataPoints.map((d) => [d.value.count, d.value.sum, d.value.buckets.counts]),
      }));
    };
    expect(await points(delta)).toEqual([
      { name: 'c_total', temporality: AggregationTemporality.DELTA, values: [['a', 3], ['b', 0]] },
      { name: 'h', temporality: AggregationTemporality.DELTA, values: [[2, 2, [1, 1, 0]]] },
    ]);
    a.add(1);
    b.add(5);
    h.record(7);
    expect(await points(delta)).toEqual([
      { name: 'c_total', temporality: AggregationTemporality.DELTA, values: [['a', 1], ['b', 5]] },
      { name: 'h', temporality: AggregationTemporality.DELTA, values: [[1, 7, [0, 0, 1]]] },
    ]);
    // Nothing changed: a delta reader exports nothing, a cumulative one the totals.
    expect(await points(delta)).toEqual([]);
    expect(await points(cumulative)).toEqual([
      { name: 'c_total', temporality: AggregationTemporality.CUMULATIVE, values: [['a', 4], ['b', 5]] },
      { name: 'h', temporality: AggregationTemporality.CUMULATIVE, values: [[3, 9, [1, 1, 1]]] },
    ]);
  });

  it("produce objects of the SDK's own shapes: the same keys in the same order at every level", async () => {
    // The render code is compiled for the shapes it has seen; a second shape for the same
    // thing (a data point with its keys in another order) deoptimises it (see preaggregated.ts).
    const reader = new PrometheusPullExporter({ preventServerStart: true, withoutScopeInfo: true });
    const provider = new MeterProvider({ readers: [reader] });
    const meter = provider.getMeter('inference-api');
    meter.createCounter('c').add(1, { k: 'a' });
    meter.createHistogram('h', { advice: { explicitBucketBoundaries: [1, 2] } }).record(0.5, { k: 'a' });
    const pre = new PreaggregatedMetrics();
    pre.counter({ name: 'c', unit: '', description: '' }).bind({ k: 'a' }).add(1);
    pre.histogram({ name: 'h', unit: '', description: '', buckets: [1, 2] }).bind({ k: 'a' }).record(0.5);
    const byName = async (collect: () => Promise<{ resourceMetrics: { scopeMetrics: { metrics: MetricData[] }[] } }>) =>
      new Map((await collect()).resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]));
    const fromSdk = await byName(() => reader.collect());
    const fromPre = await byName(() => pre.producer().collect());
    // Keys in order, recursively, of plain objects; arrays by their first element. Attribute
    // sets (read by entries, never by key; ours are frozen) and advice are compared by key only.
    const opaque = new Set(['attributes', 'advice']);
    const shape = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.length ? [shape(v[0])] : [];
      if (typeof v !== 'object' || v === null) return typeof v;
      return Object.fromEntries(Object.keys(v).map((k) => [k, opaque.has(k) ? k : shape((v as Record<string, unknown>)[k])]));
    };
    for (const name of ['c', 'h']) {
      expect([fromSdk.has(name), fromPre.has(name)], name).toEqual([true, true]);
      expect(JSON.stringify(shape(fromPre.get(name)))).toBe(JSON.stringify(shape(fromSdk.get(name))));
    }
    await provider.shutdown();
  });
});
