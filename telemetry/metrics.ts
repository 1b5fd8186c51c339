/**
 * The service's instruments, created from the instrument table. App code records through this
 * small facade and never touches the SDK: with the SDK disabled the meter is the API's no-op and
 * recording costs next to nothing.
 */
import type { Attributes, Counter, Histogram, Meter, ObservableGauge } from '@opentelemetry/api';
import { INSTRUMENTS } from './instruments.ts';

/** What the model_info gauge reports; undefined while no model is loaded. */
export interface ModelIdentity {
  readonly name: string;
  readonly version: string;
}

/** Options for {@link createServiceMetrics}. */
export interface ServiceMetricsOptions {
  /** Called at each collection: the model now serving. Only that version is reported. */
  currentModel?: () => ModelIdentity | undefined;
}

/** The recording facade used by the HTTP layer. */
export interface ServiceMetrics {
  /** One finished HTTP request. `endpoint` must already be a route template or `unmatched`. */
  recordRequest(method: string, endpoint: string, status: number, seconds: number): void;
  /** `count` predictions served by `version`. */
  recordPredictions(count: number, version: string): void;
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
  const currentModel = opts.currentModel;
  if (currentModel) {
    modelInfo.addCallback((result) => {
      const m = currentModel();
      if (m) result.observe(1, { version: m.version, name: m.name });
    });
  }

  const requestAttrs = new AttributeCache((method: string, endpoint: string, status: number) => ({
    method,
    endpoint,
    http_status: String(status),
  }));
  const durationAttrs = new AttributeCache((method: string, endpoint: string) => ({ method, endpoint }));
  const predictionAttrs = new AttributeCache((version: string) => ({ model_version: version }));

  return {
    recordRequest(method, endpoint, status, seconds) {
      requests.add(1, requestAttrs.get(method, endpoint, status));
      duration.record(seconds, durationAttrs.get(method, endpoint));
    },
    recordPredictions(count, version) {
      predictions.add(count, predictionAttrs.get(version));
    },
  };
}
