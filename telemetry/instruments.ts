/**
 * The one table of instruments: every metric this service defines, with its Prometheus name,
 * kind, unit, buckets and labels. Instruments are created from this table (`metrics.ts`), and
 * the alerting rules, recording rules and dashboards are checked against it in the tests, so a
 * renamed metric or label fails the build instead of silently breaking a panel or an alert.
 *
 * Names are the Prometheus names exactly as scraped. They are also valid OpenTelemetry
 * instrument names, so the same table serves the pull (Prometheus exporter) and push (OTLP)
 * paths; see docs/metrics.md for how Prometheus's OTLP receiver names them.
 */

/** The kinds of instrument the table may hold, with their Prometheus type. */
export type InstrumentKind = 'counter' | 'histogram' | 'observable_gauge';

/** One row of the instrument table. */
export interface InstrumentSpec {
  /** Prometheus metric family name, as exposed and as queried. */
  readonly name: string;
  readonly kind: InstrumentKind;
  /** UCUM unit given to OpenTelemetry ('s' for seconds, '{request}' for annotations). */
  readonly unit: string;
  readonly description: string;
  /** Every label the instrument may carry. All are low-cardinality by construction. */
  readonly labels: readonly string[];
  /** Explicit histogram bucket boundaries, in the instrument's unit. */
  readonly buckets?: readonly number[];
}

/**
 * Latency buckets for this service, in seconds. A single-row prediction takes well under a
 * millisecond, a 1024-row batch a few milliseconds; the objective is 200 ms, so the buckets are
 * dense around it (0.1, 0.15, 0.2, 0.25) for precise SLO and p99 queries, and reach 10 s so a
 * stalled request is still counted in a finite bucket.
 */
export const LATENCY_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/**
 * Score buckets: the whole 0..1 range, with fine steps near 0 and 1 where a healthy classifier
 * puts most rows, so "everything is 0.0" (a collapsed model) is told apart from "confidently
 * benign" only by the share in the lowest bucket, which the collapse alert watches.
 */
export const SCORE_BUCKETS = [
  0.001, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999, 1,
] as const;

/** The latency objective of the design, in seconds: it must be a bucket boundary. */
export const LATENCY_OBJECTIVE_SECONDS = 0.2;

/** The instrument table. Keys are how code refers to an instrument. */
export const INSTRUMENTS = {
  requests: {
    name: 'api_request_total',
    kind: 'counter',
    unit: '{request}',
    description: 'HTTP requests served, by method, route template and status code.',
    labels: ['method', 'endpoint', 'http_status'],
  },
  predictions: {
    name: 'api_prediction_total',
    kind: 'counter',
    unit: '{prediction}',
    description: 'Predictions served (a batch of N rows adds N), by model version and predicted class.',
    labels: ['model_version', 'label'],
  },
  requestDuration: {
    name: 'api_request_duration_seconds',
    kind: 'histogram',
    unit: 's',
    description: 'HTTP request duration from the app receiving the request to its response, in seconds.',
    labels: ['method', 'endpoint'],
    buckets: LATENCY_BUCKETS_SECONDS,
  },
  modelInfo: {
    name: 'model_info',
    kind: 'observable_gauge',
    unit: '',
    description: 'The loaded model: 1 for the version currently serving.',
    labels: ['version', 'name'],
  },
  predictionScore: {
    name: 'api_prediction_score',
    kind: 'histogram',
    unit: '',
    description: 'Predicted probability of the positive class, per row served.',
    labels: ['model_version'],
    buckets: SCORE_BUCKETS,
  },
  featureDrift: {
    name: 'model_feature_drift_psi',
    kind: 'observable_gauge',
    unit: '',
    description: 'Population stability index of each input feature over the recent-rows window, against the training deciles.',
    labels: ['feature'],
  },
  predictionDrift: {
    name: 'model_prediction_drift_psi',
    kind: 'observable_gauge',
    unit: '',
    description: 'Population stability index of the predicted score over the recent-rows window, against training.',
    labels: [],
  },
  driftWindowRows: {
    name: 'model_drift_window_rows',
    kind: 'observable_gauge',
    unit: '{row}',
    description: 'Rows in the drift window (PSI is reported once it holds MODEL_DRIFT_MIN_ROWS).',
    labels: [],
  },
  outOfRange: {
    name: 'model_input_out_of_range_total',
    kind: 'counter',
    unit: '{value}',
    description: 'Input values outside the training min..max, by feature.',
    labels: ['feature'],
  },
  baselinePositiveRate: {
    name: 'model_baseline_positive_rate',
    kind: 'observable_gauge',
    unit: '',
    description: 'Share of training rows the serving model labels positive: the reference for the live positive rate.',
    labels: ['version'],
  },
  loadFailures: {
    name: 'model_load_failures_total',
    kind: 'counter',
    unit: '{failure}',
    description: 'Model loads refused (unreadable, hash mismatch, rejected by onnxruntime, or failed smoke prediction).',
    labels: ['reason'],
  },
} as const satisfies Record<string, InstrumentSpec>;

/** The Prometheus series names an instrument produces (a histogram has _bucket, _sum, _count). */
export function seriesNames(spec: InstrumentSpec): string[] {
  if (spec.kind === 'histogram') {
    return [`${spec.name}_bucket`, `${spec.name}_sum`, `${spec.name}_count`];
  }
  return [spec.name];
}

/** Every series name this service exposes from the table. */
export function allSeriesNames(): string[] {
  return Object.values(INSTRUMENTS).flatMap((s) => seriesNames(s));
}

/** A metric produced by an OpenTelemetry runtime package rather than by this service's code. */
export interface ExternalMetricSpec {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly unit: string;
  readonly labels: readonly string[];
  /** The OpenTelemetry package that produces it. */
  readonly source: '@opentelemetry/instrumentation-runtime-node' | '@opentelemetry/instrumentation-host-metrics';
}

/**
 * Runtime and process metrics, as the Prometheus exporter names them. They come from
 * `@opentelemetry/instrumentation-runtime-node` (event loop, GC, heap) and
 * `@opentelemetry/instrumentation-host-metrics` (process CPU and memory); dashboards may use them, and the
 * tests check that every one listed here is really exposed. `v8js_gc_duration` is runtime-node's
 * histogram, recorded in the service by the native collector that replaces its GCCollector
 * (`telemetry/gc.ts`: same name, unit, buckets and labels).
 */
export const RUNTIME_METRICS = [
  { name: 'nodejs_eventloop_delay_p50', type: 'gauge', unit: 's', labels: [], source: '@opentelemetry/instrumentation-runtime-node' },
  { name: 'nodejs_eventloop_delay_p90', type: 'gauge', unit: 's', labels: [], source: '@opentelemetry/instrumentation-runtime-node' },
  { name: 'nodejs_eventloop_delay_p99', type: 'gauge', unit: 's', labels: [], source: '@opentelemetry/instrumentation-runtime-node' },
  { name: 'nodejs_eventloop_delay_max', type: 'gauge', unit: 's', labels: [], source: '@opentelemetry/instrumentation-runtime-node' },
  { name: 'nodejs_eventloop_delay_mean', type: 'gauge', unit: 's', labels: [], source: '@opentelemetry/instrumentation-runtime-node' },
  { name: 'nodejs_eventloop_utilization', type: 'gauge', unit: '1', labels: [], source: '@opentelemetry/instrumentation-runtime-node' },
  { name: 'nodejs_eventloop_time_total', type: 'counter', unit: 's', labels: ['nodejs_eventloop_state'], source: '@opentelemetry/instrumentation-runtime-node' },
  { name: 'v8js_gc_duration', type: 'histogram', unit: 's', labels: ['v8js_gc_type'], source: '@opentelemetry/instrumentation-runtime-node' },
  { name: 'v8js_memory_heap_used', type: 'gauge', unit: 'By', labels: ['v8js_heap_space_name'], source: '@opentelemetry/instrumentation-runtime-node' },
  { name: 'v8js_memory_heap_space_size', type: 'gauge', unit: 'By', labels: ['v8js_heap_space_name'], source: '@opentelemetry/instrumentation-runtime-node' },
  { name: 'process_cpu_time_total', type: 'counter', unit: 's', labels: ['cpu_mode'], source: '@opentelemetry/instrumentation-host-metrics' },
  { name: 'process_cpu_utilization', type: 'gauge', unit: '1', labels: ['cpu_mode'], source: '@opentelemetry/instrumentation-host-metrics' },
  { name: 'process_memory_usage', type: 'gauge', unit: 'By', labels: [], source: '@opentelemetry/instrumentation-host-metrics' },
] as const satisfies readonly ExternalMetricSpec[];
