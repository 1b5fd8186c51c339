/**
 * Request metrics: counts every request and times it, whatever the outcome, by wrapping the
 * app's `fetch`. The wrapper sees the final response, so errors turned into responses by
 * `onError` and `notFound` are counted with their final status.
 *
 * Why a fetch wrapper and not a Hono middleware: a `'*'` middleware puts one more async layer
 * (Hono's `compose` dispatch, with its awaits) in front of every handler, and measured that layer
 * was the largest single piece of the service's per-request overhead over the telemetry-free
 * baseline (see docs/benchmark.md). Wrapping `fetch` costs one `then` and leaves `POST
 * /predict` with the baseline's own handler chain.
 */
import type { Hono } from 'hono';
import type { ServiceMetrics } from '../../telemetry/metrics.ts';

/** The `endpoint` label of a request that matched no route. */
export const UNMATCHED = 'unmatched';

const STANDARD_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** An app's `fetch`: what @hono/node-server and `app.request()` call. */
export type FetchHandler = Hono['fetch'];

/** Something that wraps a {@link FetchHandler} with work of its own. */
export type FetchWrapper = (fetch: FetchHandler) => FetchHandler;

/** The `method` label: a standard method, or `OTHER` for anything a client makes up. */
export function methodLabel(method: string): string {
  return STANDARD_METHODS.has(method) ? method : 'OTHER';
}

/**
 * The route template that serves `path`, or undefined. The app's routes are all static paths,
 * so a path is a route exactly when it equals one: a request to a known route with the wrong
 * method (a 405) is still that route's, and any other path is unmatched. Only these templates
 * can become label values, so no path a client invents can create a new series.
 */
export function routeOf(path: string, routes: ReadonlySet<string>): string | undefined {
  return routes.has(path) ? path : undefined;
}

/** Options for {@link requestMetrics}. */
export interface RequestMetricsOptions {
  metrics: ServiceMetrics;
  /** The route templates the app serves (static paths). */
  routes: readonly string[];
  /**
   * Reads a request's path as the app's router does (Hono's `app.getPath`: the query cut off,
   * percent-encoding decoded), so the label is the route the router chose.
   */
  getPath: (request: Request) => string;
}

/** The status reported for a request whose fetch threw instead of answering. */
const THREW = 500;

/**
 * Calls `fetch` and then `done(request, state, status)` with the response's status (500 and the
 * error when it threw or rejected), returning or throwing exactly what `fetch` did. A synchronous
 * response is reported synchronously: no promise is added for it. `done` is made once per
 * wrapper and the request's own state (a start time, a span) passed beside it, so a request
 * allocates no closure of its own besides the two that observe its promise.
 */
export function observeFetch<S>(
  fetch: FetchHandler,
  request: Request,
  env: Parameters<FetchHandler>[1],
  executionCtx: Parameters<FetchHandler>[2],
  done: (request: Request, state: S, status: number, err?: unknown) => void,
  state: S,
): Response | Promise<Response> {
  let res: Response | Promise<Response>;
  try {
    res = fetch(request, env, executionCtx);
  } catch (err) {
    done(request, state, THREW, err);
    throw err;
  }
  if (!(res instanceof Promise)) {
    done(request, state, res.status);
    return res;
  }
  return res.then(
    (r) => {
      done(request, state, r.status);
      return r;
    },
    (err: unknown) => {
      done(request, state, THREW, err);
      throw err;
    },
  );
}

/** Creates the wrapper. */
export function requestMetrics(opts: RequestMetricsOptions): FetchWrapper {
  const routes: ReadonlySet<string> = new Set(opts.routes);
  const { metrics, getPath } = opts;
  const report = (request: Request, start: number, status: number) => {
    const endpoint = routeOf(getPath(request), routes) ?? UNMATCHED;
    metrics.recordRequest(methodLabel(request.method), endpoint, status, (performance.now() - start) / 1000);
  };
  return (fetch) =>
    function meteredFetch(request, env, executionCtx) {
      return observeFetch(fetch, request, env, executionCtx, report, performance.now());
    };
}
