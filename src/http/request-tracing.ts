/**
 * Request tracing: one SERVER span per request, named by its route template, joined to the
 * caller's trace through the W3C `traceparent` header (the globally registered propagator). It
 * uses only the OpenTelemetry API; the SDK behind it is started by the preload when
 * OTEL_TRACES_EXPORTER asks for it, and the app installs this wrapper only then.
 *
 * Why not `@opentelemetry/instrumentation-http`: it patches `node:http` through an ESM loader
 * hook, wraps every `emit` and listener of the request and response, and needs an
 * AsyncLocalStorage context manager to carry the span; measured, that tripled the CPU time of a
 * single-row prediction. The service makes no outgoing calls and creates no child spans, so the
 * span is started and ended right here, its name and attributes built once per route, with
 * no context manager. Like request metrics it wraps the app's `fetch` rather than adding a
 * Hono middleware layer (see request-metrics.ts).
 */
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Attributes, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { methodLabel, observeFetch, routeOf, type FetchWrapper } from './request-metrics.ts';

/** Options for {@link requestTracing}. */
export interface RequestTracingOptions {
  tracer: Tracer;
  /** The route templates the app serves (static paths): span names and `http.route` use only these. */
  routes: readonly string[];
  /** Reads a request's path as the app's router does (Hono's `app.getPath`). */
  getPath: (request: Request) => string;
  /** Paths never traced: probes and scrapes would drown the real traffic. */
  untraced?: ReadonlySet<string>;
}

/** The paths {@link requestTracing} leaves alone unless told otherwise. */
export const DEFAULT_UNTRACED: ReadonlySet<string> = new Set(['/metrics', '/health', '/ready']);

/** Reads propagation headers from a request. */
const headerGetter: TextMapGetter<Request> = {
  get: (request, key) => request.headers.get(key) ?? undefined,
  keys: (request) => [...request.headers.keys()],
};

/** Creates the wrapper. */
export function requestTracing(opts: RequestTracingOptions): FetchWrapper {
  const { tracer, getPath } = opts;
  const routes: readonly string[] = [...opts.routes];
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
  const endSpan = (span: Span, _: undefined, status: number, err?: unknown) => {
    span.setAttribute('http.response.status_code', status);
    if (status >= 500 || err) {
      span.setAttribute('error.type', err instanceof Error ? err.name : String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  };
  return (fetch) =>
    function tracedFetch(request, env, executionCtx) {
      const path = getPath(request);
      if (untraced.has(path)) return fetch(request, env, executionCtx);
      const method = methodLabel(request.method);
      const parent = propagation.extract(ROOT_CONTEXT, request, headerGetter);
      const route = routeOf(path, routes);
      const known = route === undefined ? undefined : routeSpan(method, route);
      const span = known
        ? tracer.startSpan(known.name, { kind: SpanKind.SERVER, attributes: known.attributes }, parent)
        : tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': path, 'url.scheme': 'http' } }, parent);
      return observeFetch(fetch, request, env, executionCtx, endSpan, span, undefined);
    };
}
