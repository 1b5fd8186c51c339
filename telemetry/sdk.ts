/**
 * Builds and owns the OpenTelemetry SDK: the meter provider with the readers chosen by
 * OTEL_METRICS_EXPORTER, runtime and process metrics, and (only when OTEL_TRACES_EXPORTER asks
 * for it) a tracer provider, whose spans the app's request tracing (src/http/request-tracing.ts) makes. Started once, by the preload
 * (`register.ts`); the app reaches it through {@link getTelemetry} for `/metrics` and shutdown.
 */
import { diag, DiagConsoleLogger, DiagLogLevel, metrics, propagation, trace } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { HostMetricsInstrumentation } from '@opentelemetry/instrumentation-host-metrics';
import { RuntimeInstrumentation } from './runtime.ts';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  InstrumentType,
  ConsoleMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type IMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { randomUUID } from 'node:crypto';
import type { OtlpProtocol, TelemetryConfig } from '../src/config.ts';
import { ExpositionSerializer } from './exposition.ts';
import { PreaggregatedMetrics } from './preaggregated.ts';
import { startScrapeServer, type ScrapeServer } from './scrape-server.ts';
import { SPAN_BATCH_DELAY_MS } from './span-batch.ts';

/** What the running service needs from telemetry. */
export interface TelemetryHandle {
  readonly enabled: boolean;
  /** The Prometheus text exposition, or undefined when the prometheus exporter is off. */
  renderPrometheus?: () => Promise<string>;
  /** Whether traces are exported. */
  readonly tracing: boolean;
  /** The per-request instruments' registry, exported by every metric reader; undefined when none runs. */
  readonly preaggregated?: PreaggregatedMetrics;
  /** What records `v8js.gc.duration`: the native addon, or Node's PerformanceObserver (telemetry/gc.ts). */
  readonly gcDurations?: RuntimeInstrumentation['gcDurations'];
  /** Flushes pending exports (OTLP) and stops readers and the scrape server. Idempotent. */
  shutdown(): Promise<void>;
}

const DISABLED: TelemetryHandle = { enabled: false, tracing: false, shutdown: async () => {} };
let current: TelemetryHandle = DISABLED;

/** The telemetry the preload started, or a disabled handle when none was started. */
export function getTelemetry(): TelemetryHandle {
  return current;
}

const DIAG_LEVELS: Record<string, DiagLogLevel> = {
  debug: DiagLogLevel.DEBUG,
  info: DiagLogLevel.INFO,
  warn: DiagLogLevel.WARN,
  error: DiagLogLevel.ERROR,
};

async function otlpMetricExporter(protocol: OtlpProtocol): Promise<PushMetricExporter> {
  // Loaded on demand: a scrape-only service never pays for the OTLP (and gRPC) modules.
  if (protocol === 'grpc') return new (await import('@opentelemetry/exporter-metrics-otlp-grpc')).OTLPMetricExporter();
  if (protocol === 'http/json') return new (await import('@opentelemetry/exporter-metrics-otlp-http')).OTLPMetricExporter();
  return new (await import('@opentelemetry/exporter-metrics-otlp-proto')).OTLPMetricExporter();
}

async function otlpSpanExporter(protocol: OtlpProtocol): Promise<SpanExporter> {
  if (protocol === 'grpc') return new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter();
  if (protocol === 'http/json') return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
  return (await import('./span-exporter.ts')).createProtobufSpanExporter();
}

function buildResource(config: TelemetryConfig, serviceVersion: string): Resource {
  return defaultResource().merge(
    resourceFromAttributes({
      'service.version': serviceVersion,
      // A stable id per process: on the OTLP path Prometheus turns it into the `instance` label.
      'service.instance.id': randomUUID(),
      ...config.resourceAttributes,
      'service.name': config.serviceName,
    }),
  );
}

/**
 * Gauges are exported with delta temporality. For a gauge the value is the same either way, but
 * under cumulative temporality the SDK keeps re-exporting every attribute set ever observed:
 * after a model rollout, model_info would show the old version forever, and the old version's
 * drift readings would never go away. With delta, a series not observed now is not exported.
 */
function gaugeTemporality(type: InstrumentType, otherwise: AggregationTemporality): AggregationTemporality {
  return type === InstrumentType.OBSERVABLE_GAUGE || type === InstrumentType.GAUGE ? AggregationTemporality.DELTA : otherwise;
}

/** The Prometheus exporter, with {@link gaugeTemporality}. */
export class PrometheusPullExporter extends PrometheusExporter {
  override selectAggregationTemporality(type: InstrumentType): AggregationTemporality {
    return gaugeTemporality(type, super.selectAggregationTemporality(type));
  }
}

/** Wraps a push exporter so its reader applies {@link gaugeTemporality}. */
function withGaugeTemporality(exporter: PushMetricExporter): PushMetricExporter {
  const select = exporter.selectAggregationTemporality?.bind(exporter) ?? (() => AggregationTemporality.CUMULATIVE);
  return {
    export: (metrics, done) => exporter.export(metrics, done),
    forceFlush: () => exporter.forceFlush(),
    shutdown: () => exporter.shutdown(),
    selectAggregationTemporality: (type) => gaugeTemporality(type, select(type)),
    selectAggregation: exporter.selectAggregation?.bind(exporter),
  };
}

/**
 * Renders a Prometheus exporter's current data as the text exposition, for both `/metrics`
 * endpoints: the exporter's own format without scope labels, serialised by
 * {@link ExpositionSerializer}.
 */
export function prometheusRenderer(exporter: PrometheusExporter): () => Promise<string> {
  const serializer = new ExpositionSerializer();
  return async () => {
    const { resourceMetrics, errors } = await exporter.collect();
    if (errors.length) diag.error('metrics collection errors', ...errors);
    return serializer.serialize(resourceMetrics);
  };
}

/** Options for {@link startTelemetry}. */
export interface StartTelemetryOptions {
  /** service.version on the resource. */
  serviceVersion?: string;
}

/**
 * Starts the SDK as configured and makes it the global provider. Returns the handle (also
 * available from {@link getTelemetry}). With OTEL_SDK_DISABLED=true nothing is started.
 */
export async function startTelemetry(config: TelemetryConfig, opts: StartTelemetryOptions = {}): Promise<TelemetryHandle> {
  if (config.sdkDisabled) return (current = DISABLED);
  diag.setLogger(new DiagConsoleLogger(), DIAG_LEVELS[config.logLevel] ?? DiagLogLevel.WARN);
  const resource = buildResource(config, opts.serviceVersion ?? '0.0.0');

  const readers: IMetricReader[] = [];
  let prometheus: PrometheusExporter | undefined;
  const interval = config.metricExportIntervalMs;
  // The per-request instruments, exported by every reader alongside the SDK's own.
  const preaggregated = new PreaggregatedMetrics();
  const periodic = (exporter: PushMetricExporter) => {
    const wrapped = withGaugeTemporality(exporter);
    return new PeriodicExportingMetricReader({
      exporter: wrapped,
      exportIntervalMillis: interval,
      exportTimeoutMillis: Math.min(config.metricExportTimeoutMs, interval),
      metricProducers: [preaggregated.producer((type) => wrapped.selectAggregationTemporality!(type))],
    });
  };
  for (const name of config.metricsExporters) {
    if (name === 'prometheus') {
      // One reader for both scrape endpoints: the scrape port (our own server, see
      // scrape-server.ts) and the API's /metrics render it the same way.
      prometheus = new PrometheusPullExporter({
        preventServerStart: true,
        withoutScopeInfo: true,
        metricProducers: [preaggregated.producer()],
      });
      readers.push(prometheus);
    } else if (name === 'otlp') {
      readers.push(periodic(await otlpMetricExporter(config.metricsProtocol)));
    } else if (name === 'console') {
      readers.push(periodic(new ConsoleMetricExporter()));
    }
  }
  if (readers.length === 0) {
    // OTEL_METRICS_EXPORTER=none: instruments stay no-ops and nothing listens.
    const tracing = await startTracing(config, resource);
    return (current = { ...tracing, enabled: tracing.tracing });
  }

  const meterProvider = new MeterProvider({ resource, readers });
  metrics.setGlobalMeterProvider(meterProvider);

  // Runtime (event loop, GC, heap) and process (CPU, RSS) metrics; the host's system-wide
  // metrics are left to node_exporter, which does that job better. GC durations are
  // pre-aggregated too, from the native addon (telemetry/gc.ts).
  const runtime = new RuntimeInstrumentation({ preaggregated });
  const host = new HostMetricsInstrumentation({ metricGroups: ['process.cpu', 'process.memory'] });
  for (const instrumentation of [runtime, host]) {
    instrumentation.setMeterProvider(meterProvider);
    instrumentation.enable();
  }

  const tracingHandle = await startTracing(config, resource);
  const renderPrometheus = prometheus && prometheusRenderer(prometheus);
  const scrapeServer: ScrapeServer | undefined =
    renderPrometheus && startScrapeServer({ host: config.prometheusHost, port: config.prometheusPort, render: renderPrometheus });
  let stopping: Promise<void> | undefined;
  current = {
    enabled: true,
    tracing: tracingHandle.tracing,
    preaggregated,
    gcDurations: runtime.gcDurations,
    renderPrometheus,
    shutdown: () =>
      (stopping ??= (async () => {
        await scrapeServer?.close();
        // Shut the providers down first: their final collection still needs the runtime
        // instrumentations' callbacks.
        await Promise.allSettled([meterProvider.shutdown(), tracingHandle.shutdown()]);
        runtime.disable();
        host.disable();
      })()),
  };
  return current;
}

/** The sampler OTEL_TRACES_SAMPLER names (the SDK no longer reads the variable itself). */
function samplerFor(s: TelemetryConfig['tracesSampler']): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(s.ratio);
  switch (s.name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * Starts the tracer provider when a traces exporter is configured. No context manager and no
 * auto-instrumentation: the app's fetch wrapper makes the one span per request and passes no
 * context on (see src/http/request-tracing.ts).
 */
async function startTracing(config: TelemetryConfig, resource: Resource): Promise<TelemetryHandle> {
  const exporters: SpanExporter[] = [];
  for (const name of config.tracesExporters) {
    if (name === 'otlp') exporters.push(await otlpSpanExporter(config.tracesProtocol));
    else if (name === 'console') exporters.push(new ConsoleSpanExporter());
  }
  if (exporters.length === 0) {
    return { enabled: false, tracing: false, shutdown: async () => {} };
  }
  const tracerProvider = new TracerProvider({
    resource,
    sampler: samplerFor(config.tracesSampler),
    // OTEL_BSP_* configure the batch processors: config.ts reads them, as the SDK no longer does.
    spanProcessors: exporters.map((exporter) => new BatchSpanProcessor({ ...config.batchSpanProcessor, exporter })),
  });
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(tracerProvider);
  let stopping: Promise<void> | undefined;
  return {
    enabled: true,
    tracing: true,
    shutdown: () =>
      (stopping ??= (async () => {
        // The request wrapper makes the spans of the requests answered in SPAN_BATCH_DELAY_MS in
        // a batch (src/http/request-tracing.ts). A request answered just before shutdown has its
        // span still to be made: let the batches already scheduled run first (timers of one
        // delay run in the order they were set), or the processors' last flush goes without them.
        await new Promise<void>((resolve) => setTimeout(resolve, SPAN_BATCH_DELAY_MS));
        await tracerProvider.shutdown();
      })()),
  };
}
