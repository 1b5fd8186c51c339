/**
 * Request tracing middleware: one SERVER span per request, named by its route template, joined
 * to the caller's trace through the W3C `traceparent` header (the globally registered
 * propagator). It uses only the OpenTelemetry API; the SDK behind it is started by the preload
 * when OTEL_TRACES_EXPORTER asks for it, and the app installs this middleware only then.
 *
 * Why not `@opentelemetry/instrumentation-http`: it patches `node:http` through an ESM loader
 * hook, wraps every `emit` and listener of the request and response, and needs an
 * AsyncLocalStorage context manager to carry the span; measured, that tripled the CPU time of a
 * single-row prediction. The service makes no outgoing calls and creates no child spans, so the
 * span is started and ended right here, its name and attributes built once per route, with
 * no context manager.
 */
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Attributes, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoute, methodLabel } from './request-metrics.ts';

/** Options for {@link requestTracing}. */
export interface RequestTracingOptions {
  tracer: Tracer;
  /** The route templates the app serves: span names and `http.route` use only these. */
  routes: readonly string[];
  /** Paths never traced: probes and scrapes would drown the real traffic. */
  untraced?: ReadonlySet<string>;
}

/** The paths {@link requestTracing} leaves alone unless told otherwise. */
export const DEFAULT_UNTRACED: ReadonlySet<string> = new Set(['/metrics', '/health', '/ready']);

/** Reads propagation headers from a Hono request without materialising a Headers object. */
const headerGetter: TextMapGetter<Context> = {
  get: (c, key) => c.req.header(key),
  keys: () => [],
};

/** Creates the middleware. */
export function requestTracing(opts: RequestTracingOptions): MiddlewareHandler {
  const { tracer } = opts;
  const routes: ReadonlySet<string> = new Set(opts.routes);
  const untraced = opts.untraced ?? DEFAULT_UNTRACED;
  // Span names are `METHOD /route` (just `METHOD` when no route matched, as the HTTP semantic
  // conventions say): built once per pair, never from a raw path, with the pair's start
  // attributes.
  const known = new Map<string, Map<string, { name: string; attributes: Attributes }>>();
  const routeSpan = (method: string, route: string) => {
    let byMethod = known.get(route);
    if (!byMethod) known.set(route, (byMethod = new Map()));
    let entry = byMethod.get(method);
    if (entry === undefined) {
      const attributes = { 'http.request.method': method, 'url.path': route, 'url.scheme': 'http', 'http.route': route };
      byMethod.set(method, (entry = { name: `${method} ${route}`, attributes: Object.freeze(attributes) }));
    }
    return entry;
  };
  return function requestTracingMiddleware(c, next) {
    const path = c.req.path;
    if (untraced.has(path)) return next();
    const method = methodLabel(c.req.method);
    const parent = propagation.extract(ROOT_CONTEXT, c, headerGetter);
    // The app's routes are static paths, so a path that is a route template is the route that
    // will serve it (a 405 for a wrong method included): the span gets its name and http.route
    // at the start, in one go. After next() the matched route is checked all the same.
    const expected = routes.has(path) ? routeSpan(method, path) : undefined;
    const span = expected
      ? tracer.startSpan(expected.name, { kind: SpanKind.SERVER, attributes: expected.attributes }, parent)
      : tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': path, 'url.scheme': 'http' } }, parent);
    const end = (err?: unknown) => {
      const route = matchedRoute(c, routes);
      const status = c.res.status;
      if (route && route !== path) {
        span.updateName(routeSpan(method, route).name);
        span.setAttribute('http.route', route);
      }
      span.setAttribute('http.response.status_code', status);
      if (status >= 500 || err) {
        span.setAttribute('error.type', err instanceof Error ? err.name : String(status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    };
    return next().then(
      () => end(),
      (err: unknown) => {
        end(err);
        throw err;
      },
    );
  };
}
