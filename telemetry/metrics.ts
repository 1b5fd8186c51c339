/**
 * The service's instruments, created from the instrument table. App code records through this
 * small facade and never touches the SDK: with the SDK disabled the meter is the API's no-op and
 * recording costs next to nothing.
 */
import type { Attributes, Counter, Histogram, Meter, ObservableGauge } from '@opentelemetry/api';
import { INSTRUMENTS } from './instruments.ts';

/** The `reason` values of model_load_failures_total. */
export const LOAD_FAILURE_REASONS = ['unreadable', 'invalid_card', 'hash_mismatch', 'runtime_rejected', 'smoke_failed'] as const;
export type LoadFailureReason = (typeof LOAD_FAILURE_REASONS)[number];

/** What the model_info gauge reports; undefined while no model is loaded. */
export interface ModelIdentity {
  readonly name: string;
  readonly version: string;
}

/** What the drift gauges report at a collection; undefined while the window is too small. */
export interface DriftReading {
  readonly rows: number;
  readonly features: ReadonlyArray<readonly [name: string, psi: number]>;
  readonly score: number;
}

/** Options for {@link createServiceMetrics}. */
export interface ServiceMetricsOptions {
  /** Called at each collection: the model now serving. Only that version is reported. */
  currentModel?: () => (ModelIdentity & { readonly baselinePositiveRate?: number }) | undefined;
  /** Called at each collection: drift of the serving model's recent inputs and scores. */
  drift?: () => { readonly windowRows: number; readonly reading: DriftReading | undefined } | undefined;
}

/** The recording facade used by the HTTP layer. */
export interface ServiceMetrics {
  /** One finished HTTP request. `endpoint` must already be a route template or `unmatched`. */
  recordRequest(method: string, endpoint: string, status: number, seconds: number): void;
  /** Predictions served by `version`: `positive` rows got the positive label, `negative` the other. */
  recordPredictions(version: string, positive: { label: string; count: number }, negative: { label: string; count: number }): void;
  /** The predicted scores of `rows` rows. */
  recordScores(version: string, scores: Float32Array, rows: number): void;
  /** `count` input values of `feature` outside the training range. */
  recordOutOfRange(feature: string, count: number): void;
  /** A model load that was refused, by reason. */
  recordLoadFailure(reason: LoadFailureReason): void;
}

/**
 * Attribute objects are cached and reused: the label space is small and fixed (a handful of
 * methods, routes and status codes), so after warm-up a request allocates no attribute objects
 * and builds no strings on the metrics path.
 */
class AttributeCache<K extends unknown[]> {
  private readonly root = new Map<unknown, unknown>();
  private readonly build: (...key: K) => Attributes;
  constructor(build: (...key: K) => Attributes) {
    this.build = build;
  }

  get(...key: K): Attributes {
    let node: Map<unknown, unknown> = this.root;
    for (let i = 0; i < key.length - 1; i++) {
      let next = node.get(key[i]) as Map<unknown, unknown> | undefined;
      if (!next) node.set(key[i], (next = new Map()));
      node = next;
    }
    const last = key[key.length - 1];
    let attrs = node.get(last) as Attributes | undefined;
    if (!attrs) node.set(last, (attrs = Object.freeze(this.build(...key))));
    return attrs;
  }
}

/** Creates the instruments of the table on `meter`. */
export function createServiceMetrics(meter: Meter, opts: ServiceMetricsOptions = {}): ServiceMetrics {
  const t = INSTRUMENTS;
  const requests: Counter = meter.createCounter(t.requests.name, { unit: t.requests.unit, description: t.requests.description });
  const predictions: Counter = meter.createCounter(t.predictions.name, {
    unit: t.predictions.unit,
    description: t.predictions.description,
  });
  const duration: Histogram = meter.createHistogram(t.requestDuration.name, {
    unit: t.requestDuration.unit,
    description: t.requestDuration.description,
    advice: { explicitBucketBoundaries: [...t.requestDuration.buckets] },
  });
  const modelInfo: ObservableGauge = meter.createObservableGauge(t.modelInfo.name, {
    unit: t.modelInfo.unit,
    description: t.modelInfo.description,
  });
  const scoreHist: Histogram = meter.createHistogram(t.predictionScore.name, {
    unit: t.predictionScore.unit,
    description: t.predictionScore.description,
    advice: { explicitBucketBoundaries: [...t.predictionScore.buckets] },
  });
  const outOfRange: Counter = meter.createCounter(t.outOfRange.name, { unit: t.outOfRange.unit, description: t.outOfRange.description });
  const loadFailures: Counter = meter.createCounter(t.loadFailures.name, { unit: t.loadFailures.unit, description: t.loadFailures.description });
  const gauge = (spec: { name: string; unit: string; description: string }) =>
    meter.createObservableGauge(spec.name, { unit: spec.unit, description: spec.description });
  const featureDrift = gauge(t.featureDrift);
  const predictionDrift = gauge(t.predictionDrift);
  const windowRows = gauge(t.driftWindowRows);
  const baselineRate = gauge(t.baselinePositiveRate);

  const currentModel = opts.currentModel;
  if (currentModel) {
    // Observable gauges report only what the callback observes now: after a reload the old
    // version's series stop, so exactly one version is ever shown.
    modelInfo.addCallback((result) => {
      const m = currentModel();
      if (m) result.observe(1, { version: m.version, name: m.name });
    });
    baselineRate.addCallback((result) => {
      const m = currentModel();
      if (m?.baselinePositiveRate !== undefined) result.observe(m.baselinePositiveRate, { version: m.version });
    });
  }
  const drift = opts.drift;
  if (drift) {
    const featureAttrs = new AttributeCache((feature: string) => ({ feature }));
    meter.addBatchObservableCallback(
      (result) => {
        const d = drift();
        if (!d) return;
        result.observe(windowRows, d.windowRows);
        if (!d.reading) return;
        for (const [name, value] of d.reading.features) result.observe(featureDrift, value, featureAttrs.get(name));
        result.observe(predictionDrift, d.reading.score);
      },
      [featureDrift, predictionDrift, windowRows],
    );
  }

  const requestAttrs = new AttributeCache((method: string, endpoint: string, status: number) => ({
    method,
    endpoint,
    http_status: String(status),
  }));
  const durationAttrs = new AttributeCache((method: string, endpoint: string) => ({ method, endpoint }));
  const predictionAttrs = new AttributeCache((version: string, label: string) => ({ model_version: version, label }));
  const scoreAttrs = new AttributeCache((version: string) => ({ model_version: version }));
  const outOfRangeAttrs = new AttributeCache((feature: string) => ({ feature }));
  const failureAttrs = new AttributeCache((reason: string) => ({ reason }));

  // Counters of rare events start at 0, so the first failure is an increase Prometheus can see.
  for (const reason of LOAD_FAILURE_REASONS) loadFailures.add(0, failureAttrs.get(reason));

  const seeded = new Set<string>();
  return {
    recordRequest(method, endpoint, status, seconds) {
      requests.add(1, requestAttrs.get(method, endpoint, status));
      duration.record(seconds, durationAttrs.get(method, endpoint));
    },
    recordPredictions(version, positive, negative) {
      // Both series are created (at 0) with the first prediction of a version, so a ratio of the
      // two never lacks its denominator; after that only non-zero counts are recorded.
      if (!seeded.has(version)) {
        seeded.add(version);
        predictions.add(0, predictionAttrs.get(version, positive.label));
        predictions.add(0, predictionAttrs.get(version, negative.label));
      }
      if (positive.count) predictions.add(positive.count, predictionAttrs.get(version, positive.label));
      if (negative.count) predictions.add(negative.count, predictionAttrs.get(version, negative.label));
    },
    recordScores(version, scores, rows) {
      const attrs = scoreAttrs.get(version);
      for (let i = 0; i < rows; i++) scoreHist.record(scores[i]!, attrs);
    },
    recordOutOfRange(feature, count) {
      outOfRange.add(count, outOfRangeAttrs.get(feature));
    },
    recordLoadFailure(reason) {
      loadFailures.add(1, failureAttrs.get(reason));
    },
  };
}
