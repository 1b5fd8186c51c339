/**
 * The HTTP API. `createApp(deps)` does no I/O and holds no globals, so tests drive it with
 * `app.request()` and the server wires it to real dependencies.
 */
import { Hono, type Context } from 'hono';
import { getPath as honoGetPath } from 'hono/utils/url';
import { ApiError, errorBody } from './http/errors.ts';
import { ADMIN_MODEL_ROUTE, registerAdmin } from './http/admin.ts';
import { FAULTS_ROUTE, type FaultInjector } from './http/faults.ts';
import { NO_QUALITY, type QualityMonitor } from './model/quality.ts';
import type { Rollouts } from './model/rollout.ts';
import { jsonBodyGuard, predictionResponse } from './http/predict.ts';
import { pathMemo, requestMetrics, type FetchHandler } from './http/request-metrics.ts';
import { requestTracing } from './http/request-tracing.ts';
import { publicCard } from './model/card.ts';
import type { ModelStore } from './model/store.ts';
import { silentLogger, type Logger } from './log.ts';
import type { ServiceMetrics } from '../telemetry/metrics.ts';
import { PROMETHEUS_CONTENT_TYPE, timedRender } from '../telemetry/scrape-server.ts';
import type { Tracer } from '@opentelemetry/api';

/** Everything the app needs from the outside world. */
export interface AppDeps {
  models: ModelStore;
  metrics: ServiceMetrics;
  /** False before the model is loaded and once shutdown has begun: `/ready` answers 503. */
  isReady: () => boolean;
  /** The Prometheus exposition, when the prometheus exporter is on. */
  renderMetrics?: () => Promise<string>;
  limits?: { maxBodyBytes?: number };
  logger?: Logger;
  /** Fault injection for drills; only passed when FAULT_INJECTION_ENABLED=true. */
  faults?: FaultInjector;
  /** Score and drift metrics; none when omitted. */
  quality?: QualityMonitor;
  /** Traces a span per request; only passed when traces are exported. */
  tracer?: Tracer;
  /** The model admin API; only passed when ADMIN_TOKEN is set. */
  admin?: { token: string; rollouts: Rollouts };
}

/** The route templates the app serves: the only values the `endpoint` label can take. */
export const ROUTES = ['/predict', '/model', '/health', '/ready', '/metrics'] as const;

/** Answers 405 with an Allow header for a known route called with the wrong method. */
function methodNotAllowed(allowed: string) {
  return (c: Context) => {
    c.header('Allow', allowed);
    throw new ApiError(405, 'method_not_allowed', `${c.req.method} is not allowed on ${c.req.routePath}; use ${allowed}`, {
      allowed: allowed.split(', '),
    });
  };
}

/** Builds the app. */
export function createApp(deps: AppDeps): Hono {
  const log = deps.logger ?? silentLogger;
  const maxBodyBytes = deps.limits?.maxBodyBytes ?? 1_048_576;
  // The router's path reading is remembered, so labelling a request for its metrics does not
  // read its URL a second time (see PathMemo).
  const paths = pathMemo(honoGetPath);
  const app = new Hono({ getPath: paths.read });

  const { faults, admin } = deps;
  const quality = deps.quality ?? NO_QUALITY;
  const routes: string[] = [...ROUTES];
  if (faults) routes.push(FAULTS_ROUTE);
  if (admin) routes.push(ADMIN_MODEL_ROUTE);
  if (faults) {
    app.use('/predict', faults.middleware);
    faults.register(app);
  }
  if (admin) registerAdmin(app, { token: admin.token, rollouts: admin.rollouts, models: deps.models });

  const bodyGuard = jsonBodyGuard(maxBodyBytes);
  app.post('/predict', bodyGuard, async (c) => {
    // Take the model once: a swap during this request cannot mix versions.
    const model = deps.models.current;
    if (!model) throw new ApiError(503, 'not_ready', 'no model is loaded yet');
    const input = model.parseBody(await c.req.arrayBuffer());
    const scores = await model.predict(input.data, input.rows);
    quality.observe(model, input.data, input.rows, scores);
    const { body, positives } = predictionResponse(model, input, scores);
    deps.metrics.recordPredictions(model.version, model.card.output, positives, input.rows - positives);
    return c.json(body);
  });
  app.all('/predict', methodNotAllowed('POST'));

  app.get('/model', (c) => {
    const model = deps.models.current;
    if (!model) throw new ApiError(503, 'not_ready', 'no model is loaded yet');
    return c.json(publicCard(model.card));
  });
  app.all('/model', methodNotAllowed('GET, HEAD'));

  // Liveness: no dependency checks, so a slow model never gets the process restarted.
  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.all('/health', methodNotAllowed('GET, HEAD'));

  app.get('/ready', (c) => {
    const model = deps.models.current;
    if (!deps.isReady() || !model) return c.json({ status: 'not_ready' }, 503);
    return c.json({ status: 'ready', model_version: model.version });
  });
  app.all('/ready', methodNotAllowed('GET, HEAD'));

  app.get('/metrics', async (c) => {
    if (!deps.renderMetrics) {
      throw new ApiError(404, 'metrics_disabled', 'the Prometheus exporter is not enabled (see OTEL_METRICS_EXPORTER)');
    }
    // Server-Timing as on the scrape port: the render's own time, apart from the network's.
    const { body, timing } = await timedRender(deps.renderMetrics);
    return c.body(body, 200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Server-Timing': timing });
  });
  app.all('/metrics', methodNotAllowed('GET, HEAD'));

  app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404));

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      return c.json(errorBody(err.code, err.message, err.details), err.status);
    }
    // Anything else is our fault: log it in full, tell the client nothing internal.
    log.error('unhandled error', { err: err.stack ?? String(err), method: c.req.method, path: c.req.path });
    return c.json(errorBody('internal_error', 'an internal error occurred'), 500);
  });

  // Metrics outermost, so they time and count everything, tracing included; both wrap fetch
  // rather than being middleware (see request-metrics.ts). app.request() goes through it too.
  const getPath = paths.of;
  let fetch: FetchHandler = app.fetch;
  if (deps.tracer) fetch = requestTracing({ tracer: deps.tracer, routes, getPath })(fetch);
  app.fetch = requestMetrics({ metrics: deps.metrics, routes, getPath })(fetch);
  return app;
}
