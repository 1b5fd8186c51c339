/**
 * Request metrics middleware: counts every request and times it, whatever the outcome. It is
 * the outermost middleware, so errors turned into responses by `onError` and `notFound` are
 * counted with their final status.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { ServiceMetrics } from '../../telemetry/metrics.ts';

/** The `endpoint` label of a request that matched no route. */
export const UNMATCHED = 'unmatched';

const STANDARD_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** Options for {@link requestMetrics}. */
export interface RequestMetricsOptions {
  metrics: ServiceMetrics;
  /**
   * The route templates the app serves. Only these can become `endpoint` values, so no path a
   * client invents can create a new series.
   */
  routes: readonly string[];
}

/** The `method` label: a standard method, or `OTHER` for anything a client makes up. */
export function methodLabel(method: string): string {
  return STANDARD_METHODS.has(method) ? method : 'OTHER';
}

/**
 * The route template that served a finished request, or undefined when none matched. Call after
 * next(): routePath is then the template of the last handler that ran, and a request no route
 * matched only ran wildcard middleware, whose path is not in `routes`.
 */
export function matchedRoute(c: Context, routes: ReadonlySet<string>): string | undefined {
  const template = c.req.routePath;
  return routes.has(template) ? template : undefined;
}

/** Creates the middleware. */
export function requestMetrics(opts: RequestMetricsOptions): MiddlewareHandler {
  const routes: ReadonlySet<string> = new Set(opts.routes);
  const { metrics } = opts;
  // Not an async function: Hono's dispatch awaits whatever we return, so chaining on next()'s
  // promise saves a promise and a suspended frame per request.
  return function requestMetricsMiddleware(c, next) {
    const start = performance.now();
    const record = () => {
      const endpoint = matchedRoute(c, routes) ?? UNMATCHED;
      metrics.recordRequest(methodLabel(c.req.method), endpoint, c.res.status, (performance.now() - start) / 1000);
    };
    return next().then(record, (err: unknown) => {
      record();
      throw err;
    });
  };
}
