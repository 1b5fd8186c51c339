/**
 * The service's instruments, created from the instrument table. App code records through this
 * small facade and never touches the SDK: with the SDK disabled the meter is the API's no-op and
 * recording costs next to nothing.
 *
 * The instruments recorded on every request (request count and duration, predictions, scores,
 * input values out of range) are pre-aggregated (`preaggregated.ts`): each label set is bound
 * once to a series and a request only adds to it. The rare or observed ones (model info, drift,
 * load failures) stay ordinary SDK instruments on the meter.
 */
import type { Attributes, Counter, Meter, ObservableGauge } from '@opentelemetry/api';
import { INSTRUMENTS } from './instruments.ts';
import { NOOP_SERIES, type CounterSeries, type HistogramSeries, type PreaggregatedMetrics } from './preaggregated.ts';

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
  /**
   * Where the per-request instruments live: the registry whose producers the SDK's readers
   * export (`TelemetryHandle.preaggregated`). Undefined when no reader exports metrics (SDK
   * disabled, `OTEL_METRICS_EXPORTER=none`): those instruments then record nothing.
   */
  preaggregated: PreaggregatedMetrics | undefined;
  /** Called at each collection: the model now serving. Only that version is reported. */
  currentModel?: () => (ModelIdentity & { readonly baselinePositiveRate?: number }) | undefined;
  /** Called at each collection: drift of the serving model's recent inputs and scores. */
  drift?: () => { readonly windowRows: number; readonly reading: DriftReading | undefined } | undefined;
}

/** A model's two output labels, as its card names them. */
export interface PredictionLabels {
  readonly positive_label: string;
  readonly negative_label: string;
}

/** The request series of one method and route: see {@link ServiceMetrics.requestRecorder}. */
export interface RequestRecorder {
  /** One finished request with this status. */
  record(status: number, seconds: number): void;
}

/** The recording facade used by the HTTP layer. */
export interface ServiceMetrics {
  /** One finished HTTP request. `endpoint` must already be a route template or `unmatched`. */
  recordRequest(method: string, endpoint: string, status: number, seconds: number): void;
  /**
   * What {@link recordRequest} records, with the method and route looked up once: the request
   * wrapper labels a request before its status is known, and `record` then finds the status's
   * series by index rather than looking all three labels up again.
   */
  requestRecorder(method: string, endpoint: string): RequestRecorder;
  /**
   * Predictions served by `version`: `positives` rows got `labels.positive_label`, `negatives`
   * the other (`labels` is the model card's `output`). Plain numbers rather than a pair of
   * objects: this runs on every request.
   */
  recordPredictions(version: string, labels: PredictionLabels, positives: number, negatives: number): void;
  /** The predicted scores of `rows` rows. */
  recordScores(version: string, scores: Float32Array, rows: number): void;
  /** `count` input values of `feature` outside the training range. */
  recordOutOfRange(feature: string, count: number): void;
  /** A model load that was refused, by reason. */
  recordLoadFailure(reason: LoadFailureReason): void;
}

/**
 * Values built once per key and reused: attribute objects and bound series. The label space is
 * small and fixed (a handful of methods, routes and status codes), so after warm-up a request
 * allocates nothing and builds no strings on the metrics path. One function per arity, not
 * rest parameters: those allocate an array on every lookup.
 */
function memo1<A, V>(build: (a: A) => V): (a: A) => V {
  const values = new Map<A, V>();
  return (a) => {
    let v = values.get(a);
    if (v === undefined) values.set(a, (v = build(a)));
    return v;
  };
}

/** {@link memo1} for two keys. */
function memo2<A, B, V>(build: (a: A, b: B) => V): (a: A, b: B) => V {
  const byA = memo1((a: A) => memo1((b: B) => build(a, b)));
  return (a, b) => byA(a)(b);
}

/** {@link memo1} for three keys. */
function memo3<A, B, C, V>(build: (a: A, b: B, c: C) => V): (a: A, b: B, c: C) => V {
  const byA = memo1((a: A) => memo2((b: B, c: C) => build(a, b, c)));
  return (a, b, c) => byA(a)(b, c);
}

/** A {@link memo1} of frozen attribute objects. */
const attributeCache = <A>(build: (a: A) => Attributes) => memo1((a: A) => Object.freeze(build(a)));

/** Creates the instruments of the table on `meter` and on `opts.preaggregated`. */
export function createServiceMetrics(meter: Meter, opts: ServiceMetricsOptions): ServiceMetrics {
  const t = INSTRUMENTS;
  const pre = opts.preaggregated;
  const requests = pre?.counter(t.requests);
  const predictions = pre?.counter(t.predictions);
  const duration = pre?.histogram(t.requestDuration);
  const scoreHist = pre?.histogram(t.predictionScore);
  const outOfRange = pre?.counter(t.outOfRange);
  const modelInfo: ObservableGauge = meter.createObservableGauge(t.modelInfo.name, {
    unit: t.modelInfo.unit,
    description: t.modelInfo.description,
  });
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
    const featureAttrs = attributeCache((feature: string) => ({ feature }));
    meter.addBatchObservableCallback(
      (result) => {
        const d = drift();
        if (!d) return;
        result.observe(windowRows, d.windowRows);
        if (!d.reading) return;
        for (const [name, value] of d.reading.features) result.observe(featureDrift, value, featureAttrs(name));
        result.observe(predictionDrift, d.reading.score);
      },
      [featureDrift, predictionDrift, windowRows],
    );
  }

  const durationSeries = memo2((method: string, endpoint: string): HistogramSeries => duration?.bind({ method, endpoint }) ?? NOOP_SERIES);
  const countSeries = memo3((method: string, endpoint: string, status: number): CounterSeries =>
    requests?.bind({ method, endpoint, http_status: String(status) }) ?? NOOP_SERIES,
  );
  const requestRecorder = memo2((method: string, endpoint: string): RequestRecorder => {
    const durations = durationSeries(method, endpoint);
    // By status code, filled in as codes occur: a request's lookup is an array index. HTTP
    // statuses are three-digit numbers; anything else takes the keyed lookup every time.
    const counts: CounterSeries[] = [];
    return {
      record(status, seconds) {
        let count = counts[status];
        if (count === undefined) {
          count = countSeries(method, endpoint, status);
          if (Number.isInteger(status) && status >= 100 && status < 1000) counts[status] = count;
        }
        count.add(1);
        durations.record(seconds);
      },
    };
  });
  const predictionSeries = memo2((version: string, label: string): CounterSeries => predictions?.bind({ model_version: version, label }) ?? NOOP_SERIES);
  const scoreSeries = memo1((version: string): HistogramSeries => scoreHist?.bind({ model_version: version }) ?? NOOP_SERIES);
  const outOfRangeSeries = memo1((feature: string): CounterSeries => outOfRange?.bind({ feature }) ?? NOOP_SERIES);
  const failureAttrs = attributeCache((reason: string) => ({ reason }));
  // The serving model's series, kept from its last request: the version changes only at a
  // rollout, so a request compares two references instead of looking its labels up.
  let lastPredictions: { version: string; labels: PredictionLabels; positive: CounterSeries; negative: CounterSeries } | undefined;
  let lastScores: { version: string | undefined; series: HistogramSeries } = { version: undefined, series: NOOP_SERIES };

  // Counters of rare events start at 0, so the first failure is an increase Prometheus can see.
  for (const reason of LOAD_FAILURE_REASONS) loadFailures.add(0, failureAttrs(reason));

  return {
    recordRequest(method, endpoint, status, seconds) {
      requestRecorder(method, endpoint).record(status, seconds);
    },
    requestRecorder,
    recordPredictions(version, labels, positives, negatives) {
      let p = lastPredictions;
      if (p === undefined || p.version !== version || p.labels !== labels) {
        // Both series exist (at 0) from the first prediction of a version, so a ratio of the two
        // never lacks its denominator.
        p = lastPredictions = {
          version,
          labels,
          positive: predictionSeries(version, labels.positive_label),
          negative: predictionSeries(version, labels.negative_label),
        };
      }
      p.positive.add(positives);
      p.negative.add(negatives);
    },
    recordScores(version, scores, rows) {
      if (version !== lastScores.version) lastScores = { version, series: scoreSeries(version) };
      const series = lastScores.series;
      for (let i = 0; i < rows; i++) series.record(scores[i]!);
    },
    recordOutOfRange(feature, count) {
      outOfRangeSeries(feature).add(count);
    },
    recordLoadFailure(reason) {
      loadFailures.add(1, failureAttrs(reason));
    },
  };
}
