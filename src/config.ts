/**
 * The one reader of `process.env`. Every setting of the service and of its telemetry is parsed
 * and checked here; an invalid value stops start-up with a message naming the variable and the
 * form it expects. (The OTLP exporter packages also read their own standard endpoint, header,
 * timeout and compression variables; see README.)
 */
import { fileURLToPath } from 'node:url';
import { DEFAULT_MAX_ROWS_PER_SECOND } from './model/quality.ts';
import { DEFAULT_MICRO_BATCH_ROWS, type MicroBatchMode } from './model/micro-batch.ts';
import type { ModelSettings } from './model/model.ts';
import { dirname, isAbsolute, resolve } from 'node:path';

/** The project root, so default paths work whatever the working directory. */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The bundled model, used when MODEL_PATH is not set. */
export const DEFAULT_MODEL_PATH = 'models/breast-cancer-v1.0.0.onnx';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type MetricsExporterName = 'prometheus' | 'otlp' | 'console' | 'none';
export type TracesExporterName = 'otlp' | 'console' | 'none';
export type TracesSamplerName = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';
export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';

/** Fault injection for drills; never active unless FAULT_INJECTION_ENABLED=true. */
export interface FaultConfig {
  readonly enabled: boolean;
}

/** Everything the service's own code needs. */
export interface ServiceConfig {
  readonly port: number;
  readonly host: string;
  readonly modelPath: string;
  readonly modelCardPath: string;
  readonly maxBatch: number;
  readonly maxBodyBytes: number;
  readonly logLevel: LogLevel;
  readonly shutdownTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly ortIntraOpThreads: number;
  /** Micro-batching of concurrent one-row predictions (src/model/micro-batch.ts); `maxRows` 0 or 1 turns it off. */
  readonly microBatch: { readonly maxRows: number; readonly mode: MicroBatchMode };
  readonly faults: FaultConfig;
  /** Folder rollouts may load models from. */
  readonly modelDir: string;
  /** Bearer token of the admin API; the API is off when unset. */
  readonly adminToken: string | undefined;
  readonly quality: { readonly enabled: boolean; readonly windowRows: number; readonly minRows: number; readonly maxRowsPerSecond: number };
  /** Renders of the Prometheus exposition before the service reports ready (telemetry/warm-up.ts); 0 skips. */
  readonly metricsWarmupRenders: number;
}

/** The OpenTelemetry settings, from the standard OTEL_* variables. */
export interface TelemetryConfig {
  readonly sdkDisabled: boolean;
  readonly serviceName: string;
  /** Parsed OTEL_RESOURCE_ATTRIBUTES. */
  readonly resourceAttributes: Readonly<Record<string, string>>;
  readonly metricsExporters: readonly MetricsExporterName[];
  readonly tracesExporters: readonly TracesExporterName[];
  /** OTEL_TRACES_SAMPLER and its argument (the ratio for the traceidratio samplers). */
  readonly tracesSampler: { readonly name: TracesSamplerName; readonly ratio: number };
  readonly prometheusHost: string;
  readonly prometheusPort: number;
  readonly metricExportIntervalMs: number;
  readonly metricExportTimeoutMs: number;
  readonly metricsProtocol: OtlpProtocol;
  readonly tracesProtocol: OtlpProtocol;
  /**
   * The batch span processor's settings, OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT,
   * OTEL_BSP_MAX_QUEUE_SIZE and OTEL_BSP_MAX_EXPORT_BATCH_SIZE (the SDK no longer reads them itself).
   */
  readonly batchSpanProcessor: {
    readonly scheduledDelayMillis: number;
    readonly exportTimeoutMillis: number;
    readonly maxQueueSize: number;
    readonly maxExportBatchSize: number;
  };
  readonly logLevel: LogLevel;
}

/** Raised for an invalid environment variable; the message names it and the expected form. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly variable: string;
  readonly expected: string;
  readonly got: string;
  constructor(variable: string, expected: string, got: string) {
    super(`invalid ${variable}=${JSON.stringify(got)}: expected ${expected}`);
    this.variable = variable;
    this.expected = expected;
    this.got = got;
  }
}

/**
 * Runs a config loader; on a {@link ConfigError} prints it and exits 1, so a bad variable stops
 * start-up with one clear line instead of a stack trace.
 */
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`configuration error: ${err.message}\n`);
    process.exit(1);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads variables with typed parsers; empty strings count as unset, as the OTel spec says. */
class EnvReader {
  private readonly env: Env;
  constructor(env: Env) {
    this.env = env;
  }

  raw(name: string): string | undefined {
    const v = this.env[name]?.trim();
    return v ? v : undefined;
  }

  string(name: string, def: string): string {
    return this.raw(name) ?? def;
  }

  int(name: string, def: number, min: number, max: number): number {
    const v = this.raw(name);
    if (v === undefined) return def;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      throw new ConfigError(name, `an integer from ${min} to ${max}`, v);
    }
    return Number(v);
  }

  bool(name: string, def: boolean): boolean {
    const v = this.raw(name)?.toLowerCase();
    if (v === undefined) return def;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw new ConfigError(name, 'true or false', this.raw(name)!);
  }

  oneOf<T extends string>(name: string, def: T, allowed: readonly T[]): T {
    const v = this.raw(name)?.toLowerCase();
    if (v === undefined) return def;
    if (!allowed.includes(v as T)) throw new ConfigError(name, `one of ${allowed.join(', ')}`, this.raw(name)!);
    return v as T;
  }

  /** A comma list of allowed names; `none` must stand alone. */
  list<T extends string>(name: string, def: readonly T[], allowed: readonly T[]): readonly T[] {
    const v = this.raw(name);
    if (v === undefined) return def;
    const items = [...new Set(v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))];
    const expected = `a comma-separated list of ${allowed.join(', ')} ('none' alone)`;
    if (items.length === 0 || items.some((i) => !allowed.includes(i as T))) throw new ConfigError(name, expected, v);
    if (items.includes('none') && items.length > 1) throw new ConfigError(name, expected, v);
    return items as T[];
  }

  path(name: string, def: string): string {
    const v = this.string(name, def);
    return isAbsolute(v) ? v : resolve(PROJECT_ROOT, v);
  }
}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'http/json', 'grpc'];

/** Parses OTEL_RESOURCE_ATTRIBUTES (`k=v,k2=v2`, values percent-encoded as the spec says). */
function parseResourceAttributes(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const pair of raw.split(',')) {
    if (!pair.trim()) continue;
    const eq = pair.indexOf('=');
    const key = pair.slice(0, eq).trim();
    if (eq <= 0 || !key) throw new ConfigError('OTEL_RESOURCE_ATTRIBUTES', 'a comma-separated list of key=value pairs', raw);
    try {
      out[key] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      throw new ConfigError('OTEL_RESOURCE_ATTRIBUTES', 'percent-encoded values', raw);
    }
  }
  return out;
}

/** Loads the service settings. */
export function loadServiceConfig(env: Env = process.env): ServiceConfig {
  const e = new EnvReader(env);
  const modelPath = e.path('MODEL_PATH', DEFAULT_MODEL_PATH);
  const adminToken = e.raw('ADMIN_TOKEN');
  if (adminToken !== undefined && adminToken.length < 16) throw new ConfigError('ADMIN_TOKEN', 'at least 16 characters', '(hidden)');
  const windowRows = e.int('MODEL_DRIFT_WINDOW_ROWS', 1000, 10, 1_000_000);
  return {
    port: e.int('PORT', 8000, 0, 65535),
    host: e.string('HOST', '0.0.0.0'),
    modelPath,
    modelCardPath: e.path('MODEL_CARD_PATH', modelPath.replace(/\.onnx$/, '') + '.card.json'),
    maxBatch: e.int('MAX_BATCH', 1024, 1, 100_000),
    maxBodyBytes: e.int('MAX_BODY_BYTES', 1_048_576, 1024, 1_073_741_824),
    logLevel: e.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
    shutdownTimeoutMs: e.int('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    requestTimeoutMs: e.int('HTTP_REQUEST_TIMEOUT_MS', 30_000, 1, 600_000),
    headersTimeoutMs: e.int('HTTP_HEADERS_TIMEOUT_MS', 10_000, 1, 600_000),
    keepAliveTimeoutMs: e.int('HTTP_KEEP_ALIVE_TIMEOUT_MS', 5_000, 1, 600_000),
    ortIntraOpThreads: e.int('ORT_INTRA_OP_THREADS', 1, 0, 256),
    microBatch: {
      maxRows: e.int('MICRO_BATCH_MAX_ROWS', DEFAULT_MICRO_BATCH_ROWS, 0, 100_000),
      mode: e.oneOf<MicroBatchMode>('MICRO_BATCH_MODE', 'adaptive', ['adaptive', 'turn']),
    },
    faults: { enabled: e.bool('FAULT_INJECTION_ENABLED', false) },
    modelDir: e.path('MODEL_DIR', dirname(modelPath)),
    adminToken,
    quality: {
      enabled: e.bool('MODEL_QUALITY_METRICS', true),
      windowRows,
      minRows: e.int('MODEL_DRIFT_MIN_ROWS', Math.min(200, windowRows), 1, windowRows),
      maxRowsPerSecond: e.int('MODEL_DRIFT_MAX_ROWS_PER_SECOND', DEFAULT_MAX_ROWS_PER_SECOND, 0, 1_000_000),
    },
    metricsWarmupRenders: e.int('METRICS_WARMUP_RENDERS', 1000, 0, 100_000),
  };
}

/**
 * The settings every model load takes from the config (the first model, rollouts, the benchmark's
 * baseline), so a new one is added here once rather than at every `loadModel` call.
 */
export function modelSettings(c: ServiceConfig): ModelSettings {
  return { maxBatch: c.maxBatch, intraOpThreads: c.ortIntraOpThreads, microBatch: c.microBatch };
}

/** Loads the telemetry settings from the standard OTEL_* variables. */
export function loadTelemetryConfig(env: Env = process.env): TelemetryConfig {
  const e = new EnvReader(env);
  const otlpProtocol = e.oneOf('OTEL_EXPORTER_OTLP_PROTOCOL', 'http/protobuf', PROTOCOLS);
  const resourceAttributes = parseResourceAttributes(e.raw('OTEL_RESOURCE_ATTRIBUTES'));
  return {
    sdkDisabled: e.bool('OTEL_SDK_DISABLED', false),
    // OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES, as the spec says.
    serviceName: e.raw('OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? 'inference-api',
    resourceAttributes,
    // The SDK's own default is otlp; this service defaults to a scrape endpoint.
    metricsExporters: e.list('OTEL_METRICS_EXPORTER', ['prometheus'], ['prometheus', 'otlp', 'console', 'none']),
    // Traces stay off unless asked for: no connection attempts to a collector nobody runs.
    tracesExporters: e.list('OTEL_TRACES_EXPORTER', ['none'], ['otlp', 'console', 'none']),
    tracesSampler: {
      name: e.oneOf<TracesSamplerName>('OTEL_TRACES_SAMPLER', 'parentbased_always_on', [
        'always_on',
        'always_off',
        'traceidratio',
        'parentbased_always_on',
        'parentbased_always_off',
        'parentbased_traceidratio',
      ]),
      ratio: (() => {
        const raw = e.raw('OTEL_TRACES_SAMPLER_ARG');
        if (raw === undefined) return 1;
        const v = Number(raw);
        if (!(v >= 0 && v <= 1)) throw new ConfigError('OTEL_TRACES_SAMPLER_ARG', 'a number from 0 to 1', raw);
        return v;
      })(),
    },
    prometheusHost: e.string('OTEL_EXPORTER_PROMETHEUS_HOST', 'localhost'),
    prometheusPort: e.int('OTEL_EXPORTER_PROMETHEUS_PORT', 9464, 0, 65535),
    metricExportIntervalMs: e.int('OTEL_METRIC_EXPORT_INTERVAL', 60_000, 1, 86_400_000),
    metricExportTimeoutMs: e.int('OTEL_METRIC_EXPORT_TIMEOUT', 30_000, 1, 86_400_000),
    metricsProtocol: e.oneOf('OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', otlpProtocol, PROTOCOLS),
    tracesProtocol: e.oneOf('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', otlpProtocol, PROTOCOLS),
    // The spec's defaults.
    batchSpanProcessor: {
      scheduledDelayMillis: e.int('OTEL_BSP_SCHEDULE_DELAY', 5000, 0, 86_400_000),
      exportTimeoutMillis: e.int('OTEL_BSP_EXPORT_TIMEOUT', 30_000, 1, 86_400_000),
      maxQueueSize: e.int('OTEL_BSP_MAX_QUEUE_SIZE', 2048, 1, 10_000_000),
      maxExportBatchSize: e.int('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, 1, 10_000_000),
    },
    logLevel: e.oneOf('OTEL_LOG_LEVEL', 'warn', LOG_LEVELS),
  };
}
