/**
 * The service entry point: `node --import ./telemetry/register.ts src/server.ts` (`npm start`).
 * Loads config and the model, serves the app, and shuts down gracefully on SIGTERM/SIGINT.
 */
import { serve, type ServerType } from '@hono/node-server';
import { metrics, trace } from '@opentelemetry/api';
import type { Server, ServerOptions } from 'node:http';
import { createApp } from './app.ts';
import { loadOrExit, loadServiceConfig, modelSettings, type ServiceConfig } from './config.ts';
import { createFaultInjector } from './http/faults.ts';
import { createLogger, type Logger } from './log.ts';
import { loadModel, ModelLoadError } from './model/model.ts';
import { bodyReader } from './model/native-rows.ts';
import { createQualityMonitor, NO_QUALITY, type QualityMonitor } from './model/quality.ts';
import { createRollouts } from './model/rollout.ts';
import { ModelStore } from './model/store.ts';
import { createServiceMetrics } from '../telemetry/metrics.ts';
import { getTelemetry } from '../telemetry/sdk.ts';
import { warmUpRender } from '../telemetry/warm-up.ts';

/**
 * The HTTP server's timeouts: slow or idle clients must not hold sockets forever. Node checks
 * them on a timer (30 s by default); checking every second makes a short headers timeout real.
 */
function serverOptions(config: ServiceConfig): ServerOptions {
  return {
    requestTimeout: config.requestTimeoutMs,
    headersTimeout: Math.min(config.headersTimeoutMs, config.requestTimeoutMs),
    keepAliveTimeout: config.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
  };
}

/** Stops accepting, lets in-flight requests finish (up to the deadline), flushes telemetry. */
async function shutdown(server: Server, log: Logger, config: ServiceConfig, signal: string): Promise<number> {
  log.info('shutting down', { signal, deadline_ms: config.shutdownTimeoutMs });
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Idle keep-alive sockets would hold close() open until their timeout.
  server.closeIdleConnections();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs)));
  const outcome = await Promise.race([closed.then(() => 'drained' as const), deadline]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    log.warn('shutdown deadline reached; closing remaining connections');
    server.closeAllConnections();
  }
  await getTelemetry().shutdown();
  log.info('stopped', { outcome });
  return 0;
}

async function main(): Promise<void> {
  const config = loadOrExit(() => loadServiceConfig());
  const log = createLogger({ level: config.logLevel });
  const telemetry = getTelemetry();
  const settings = modelSettings(config);
  const models = new ModelStore();
  let ready = false;

  // The drift gauges read the quality monitor, which records through the metrics: bind late.
  let quality: QualityMonitor = NO_QUALITY;
  const serviceMetrics = createServiceMetrics(metrics.getMeter('inference-api'), {
    preaggregated: telemetry.preaggregated,
    currentModel: () => {
      const m = models.current;
      return m && { name: m.name, version: m.version, baselinePositiveRate: m.card.baseline?.score?.positive_rate };
    },
    drift: () => quality.drift(models.current),
  });
  quality = createQualityMonitor(serviceMetrics, config.quality);
  const rollouts = createRollouts({
    store: models,
    metrics: serviceMetrics,
    logger: log,
    modelDir: config.modelDir,
    settings,
    releaseAfterMs: config.requestTimeoutMs + 1000,
  });

  const app = createApp({
    models,
    metrics: serviceMetrics,
    isReady: () => ready,
    renderMetrics: telemetry.renderPrometheus,
    limits: { maxBodyBytes: config.maxBodyBytes },
    logger: log,
    faults: config.faults.enabled ? createFaultInjector() : undefined,
    quality,
    tracer: telemetry.tracing ? trace.getTracer('inference-api') : undefined,
    admin: config.adminToken ? { token: config.adminToken, rollouts } : undefined,
  });

  // Listen first so /health answers while the model loads; /ready stays 503 until it has.
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host, serverOptions: serverOptions(config) }) as ServerType as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  log.info('listening', {
    host: config.host,
    port: config.port,
    telemetry: telemetry.enabled,
    tracing: telemetry.tracing,
    ...(telemetry.gcDurations && { gc_durations: telemetry.gcDurations }),
    body_reader: bodyReader(),
  });
  if (config.adminToken) log.info('model admin API enabled', { route: '/admin/model', model_dir: config.modelDir });
  if (config.faults.enabled) log.warn('fault injection is enabled: /admin/faults can degrade /predict');

  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) return;
    stopping = true;
    ready = false;
    shutdown(server, log, config, signal).then(
      (code) => process.exit(code),
      (err) => {
        log.error('shutdown failed', { err: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  try {
    const model = await loadModel({
      modelPath: config.modelPath,
      cardPath: config.modelCardPath,
      ...settings,
    });
    models.swap(model);
  } catch (err) {
    if (err instanceof ModelLoadError) serviceMetrics.recordLoadFailure(err.reason);
    log.error('model failed to load', { err: err instanceof ModelLoadError ? err.message : String(err) });
    await getTelemetry().shutdown();
    process.exit(1);
  }
  if (telemetry.renderPrometheus && config.metricsWarmupRenders > 0) {
    // After the model loaded, so the warm-up renders the model's own series too.
    const warm = await warmUpRender(telemetry.renderPrometheus, { renders: config.metricsWarmupRenders });
    log.info('metrics render warmed up', { renders: warm.renders, ms: Math.round(warm.ms) });
  }
  if (!stopping) ready = true;
  log.info('model loaded', {
    name: models.current!.name,
    version: models.current!.version,
    path: config.modelPath,
    // From the loaded model, so the log says what loadModel decided rather than repeating its rule.
    micro_batch: models.current!.microBatch ? `${config.microBatch.mode}, up to ${config.microBatch.maxRows} rows` : 'off',
  });
}

await main();
