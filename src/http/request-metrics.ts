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
import type { RequestRecorder, ServiceMetrics } from '../../telemetry/metrics.ts';

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
 * can become label values, so no path a client invents can create a new series. A handful of
 * static routes: comparing the path with each is cheaper than hashing it.
 */
export function routeOf(path: string, routes: readonly string[]): string | undefined {
  return routes.includes(path) ? path : undefined;
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
 * Node's global `performance` is a lazily defined accessor: read once here, so a clock read on
 * the request path is one call rather than a global lookup and a getter call as well.
 */
export const clock = performance;

/** What a wrapper calls when a request is answered: `a` and `b` are the request's own state. */
export type AnswerReport<A, B> = (a: A, b: B, status: number, err?: unknown) => void;

/**
 * Calls `done(a, b, status)` with the status of `res`, what an app's `fetch` returned (500 and the
 * error when it rejects), and returns `res` itself. A Response is reported at once. For a
 * promise, `done` runs in a reaction beside the server's rather than in one between the app and
 * the server: the server awaits the app's own promise, so the wrapper adds no link to the
 * response's chain (no second promise resolved with the Response, which would look up a `then`
 * on it, and no extra microtask before the response is written). `done` is made once per wrapper
 * and the request's own state (a start time, a span, a series) passed beside it, so a request
 * allocates no closure of its own besides the two that observe its promise.
 */
export function whenAnswered<A, B>(res: Response | Promise<Response>, done: AnswerReport<A, B>, a: A, b: B): Response | Promise<Response> {
  if (!(res instanceof Promise)) {
    done(a, b, res.status);
    return res;
  }
  // The rejection is handled here and by whoever awaits `res`: reporting it must not raise an
  // unhandled rejection of its own.
  res.then(
    (r) => done(a, b, r.status),
    (err: unknown) => done(a, b, THREW, err),
  );
  return res;
}

/**
 * Calls `fetch` and reports its answer through {@link whenAnswered}; when `fetch` throws,
 * reports 500 and the error and rethrows it.
 */
export function observeFetch<A, B>(
  fetch: FetchHandler,
  request: Request,
  env: Parameters<FetchHandler>[1],
  executionCtx: Parameters<FetchHandler>[2],
  done: AnswerReport<A, B>,
  a: A,
  b: B,
): Response | Promise<Response> {
  let res: Response | Promise<Response>;
  try {
    res = fetch(request, env, executionCtx);
  } catch (err) {
    done(a, b, THREW, err);
    throw err;
  }
  return whenAnswered(res, done, a, b);
}

/**
 * A path reader that remembers the last request it read and that request's path. Hono reads a
 * request's path synchronously as its `fetch` starts (`app.getPath`), so a wrapper that asks
 * right after `fetch` returns gets the path the router used without reading the URL again; for
 * any other request it reads the URL itself. Keyed by the request object, so a path can only be
 * given back for the request it was read from.
 */
export interface PathMemo {
  /** Reads and remembers: install as the app's `getPath`. */
  read(request: Request, options?: { env?: unknown }): string;
  /** The path of `request`: remembered if it was the last one read, read otherwise. */
  of(request: Request): string;
}

/** Creates a {@link PathMemo} over `read` (Hono's `app.getPath`). */
export function pathMemo(read: (request: Request, options?: { env?: unknown }) => string): PathMemo {
  let lastRequest: Request | undefined;
  let lastPath = '';
  return {
    read(request, options) {
      lastPath = read(request, options);
      lastRequest = request;
      return lastPath;
    },
    of(request) {
      if (request !== lastRequest) return read(request);
      lastRequest = undefined;
      return lastPath;
    },
  };
}

const report = (recorder: RequestRecorder, start: number, status: number) => recorder.record(status, (clock.now() - start) / 1000);

/** Creates the wrapper. */
export function requestMetrics(opts: RequestMetricsOptions): FetchWrapper {
  const routes: readonly string[] = [...opts.routes];
  const { metrics, getPath } = opts;
  // Called once `fetch` has started: the router has read the path by then (see PathMemo).
  const recorderOf = (request: Request) => metrics.requestRecorder(methodLabel(request.method), routeOf(getPath(request), routes) ?? UNMATCHED);
  return (fetch) =>
    function meteredFetch(request, env, executionCtx) {
      const start = clock.now();
      let res: Response | Promise<Response>;
      try {
        res = fetch(request, env, executionCtx);
      } catch (err) {
        report(recorderOf(request), start, THREW);
        throw err;
      }
      return whenAnswered(res, report, recorderOf(request), start);
    };
}
