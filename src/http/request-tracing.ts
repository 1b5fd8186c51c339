/**
 * Request tracing: one SERVER span per request, named by its route template, joined to the
 * caller's trace through the W3C `traceparent` header (the globally registered propagator). It
 * uses only the OpenTelemetry API; the SDK behind it is started by the preload when
 * OTEL_TRACES_EXPORTER asks for it, and the app installs this wrapper only then.
 *
 * Why not `@opentelemetry/instrumentation-http`: it patches `node:http` through an ESM loader
 * hook, wraps every `emit` and listener of the request and response, and needs an
 * AsyncLocalStorage context manager to carry the span; measured, that tripled the CPU time of a
 * single-row prediction. The service makes no outgoing calls and creates no child spans, so no
 * code needs the span while the request runs: the wrapper notes the request's start and end
 * times, status and propagation headers, and the spans of the requests answered in the next
 * `SPAN_BATCH_DELAY_MS` (10 ms) are made together (telemetry/span-batch.ts says why), with those
 * times, through the same API and SDK (sampler, processors, exporters). Their names and
 * attributes are built once per route, and no context manager runs. Like request metrics it wraps the app's `fetch` rather than adding a Hono
 * middleware layer (see request-metrics.ts).
 */
import { diag, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Attributes, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { SPAN_BATCH_DELAY_MS } from '../../telemetry/span-batch.ts';
import { clock, methodLabel, observeFetch, routeOf, type FetchWrapper } from './request-metrics.ts';

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

/**
 * What a request leaves for its span. Spans are made by the SDK in a batch, from these records,
 * `SPAN_BATCH_DELAY_MS` after the first of them, with each request's own start and end times:
 * the SDK's span code (ids, attribute checks, the span object, the processor) then runs for many
 * spans at a time, hot, instead of between each request's parsing, inference and response, where
 * it made every other part of the request slower too (see docs/benchmark.md).
 */
interface SpanRecord {
  name: string;
  attributes: Attributes;
  /** `performance.now()` at the start and at the answer: the SDK turns them into epoch times. */
  start: number;
  end: number;
  status: number;
  error: string | undefined;
  /** The values of the propagator's fields (`traceparent`, ...), when the request had any. */
  carrier: (string | undefined)[] | undefined;
}

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
  // The headers the registered propagator reads, looked up per request; extraction itself waits
  // for the batch, and is skipped for a request that carried none of them (no propagator makes a
  // context out of no headers).
  const fields = propagation.fields();
  const getter: TextMapGetter<(string | undefined)[]> = {
    get: (carrier, key) => {
      const i = fields.indexOf(key);
      return i < 0 ? undefined : carrier[i];
    },
    keys: (carrier) => fields.filter((_, i) => carrier[i] !== undefined),
  };

  let pending: SpanRecord[] = [];
  const flush = () => {
    const records = pending;
    pending = [];
    for (const r of records) {
      // Outside any request now: a throwing sampler or processor must cost a span, not the process.
      try {
        const parent = r.carrier ? propagation.extract(ROOT_CONTEXT, r.carrier, getter) : ROOT_CONTEXT;
        const span = tracer.startSpan(r.name, { kind: SpanKind.SERVER, attributes: r.attributes, startTime: r.start }, parent);
        span.setAttribute('http.response.status_code', r.status);
        if (r.error !== undefined) {
          span.setAttribute('error.type', r.error);
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end(r.end);
      } catch (err) {
        diag.error('request tracing: a span could not be made', err);
      }
    }
  };
  const endSpan = (r: SpanRecord, _: undefined, status: number, err?: unknown) => {
    r.end = clock.now();
    r.status = status;
    if (status >= 500 || err) r.error = err instanceof Error ? err.name : String(status);
    // The first answer after a batch schedules the next one. The tracer's shutdown waits as long
    // (telemetry/sdk.ts), and a timer of the same delay set later runs later.
    if (pending.push(r) === 1) setTimeout(flush, SPAN_BATCH_DELAY_MS);
  };
  return (fetch) =>
    function tracedFetch(request, env, executionCtx) {
      const path = getPath(request);
      if (untraced.has(path)) return fetch(request, env, executionCtx);
      const start = clock.now();
      const method = methodLabel(request.method);
      let carrier: (string | undefined)[] | undefined;
      for (let i = 0; i < fields.length; i++) {
        const value = request.headers.get(fields[i]!);
        if (value === null) continue;
        carrier ??= new Array<string | undefined>(fields.length);
        carrier[i] = value;
      }
      const route = routeOf(path, routes);
      const { name, attributes } =
        route === undefined ? { name: method, attributes: { 'http.request.method': method, 'url.path': path, 'url.scheme': 'http' } } : routeSpan(method, route);
      const record: SpanRecord = { name, attributes, start, end: start, status: 0, error: undefined, carrier };
      return observeFetch(fetch, request, env, executionCtx, endSpan, record, undefined);
    };
}
