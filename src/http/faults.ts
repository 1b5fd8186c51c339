/**
 * Fault injection for drills: added latency and 5xx errors on a share of `/predict` requests,
 * switched at run time through `/admin/faults`. It exists only when FAULT_INJECTION_ENABLED=true:
 * in a default start neither the route nor the middleware is registered.
 */
import type { Hono, MiddlewareHandler } from 'hono';
import { ApiError } from './errors.ts';
import { parseJsonBody } from './json.ts';

/** The faults in force. Ratios are shares of requests, 0..1. */
export interface FaultSettings {
  readonly latencyMs: number;
  readonly latencyRatio: number;
  readonly errorRatio: number;
  readonly errorStatus: 500 | 503;
}

/** No faults. */
export const NO_FAULTS: FaultSettings = Object.freeze({ latencyMs: 0, latencyRatio: 0, errorRatio: 0, errorStatus: 500 });

/** The admin route's path. */
export const FAULTS_ROUTE = '/admin/faults';

/** Options for {@link createFaultInjector}. */
export interface FaultInjectorOptions {
  /** Source of randomness in [0, 1); tests pass a fixed sequence. */
  random?: () => number;
}

/** Holds the current faults and applies them. */
export interface FaultInjector {
  readonly settings: FaultSettings;
  set(next: Partial<FaultSettings>): FaultSettings;
  clear(): void;
  /** Middleware for the routes that faults apply to. */
  middleware: MiddlewareHandler;
  /** Registers GET/PUT/DELETE on {@link FAULTS_ROUTE}. */
  register(app: Hono): void;
}

const ratio = (v: unknown, field: string): number => {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new ApiError(422, 'invalid_value', `'${field}' must be a number from 0 to 1`, { field });
  return v;
};

/** Creates an injector with no faults in force. */
export function createFaultInjector(opts: FaultInjectorOptions = {}): FaultInjector {
  const random = opts.random ?? Math.random;
  let settings = NO_FAULTS;

  const injector: FaultInjector = {
    get settings() {
      return settings;
    },
    set(next) {
      settings = Object.freeze({ ...settings, ...next });
      return settings;
    },
    clear() {
      settings = NO_FAULTS;
    },
    middleware: async (_c, next) => {
      const s = settings;
      if (s.latencyRatio > 0 && random() < s.latencyRatio) await new Promise((r) => setTimeout(r, s.latencyMs));
      if (s.errorRatio > 0 && random() < s.errorRatio) {
        throw new ApiError(s.errorStatus, 'injected_fault', 'fault injected for a drill');
      }
      await next();
    },
    register(app) {
      app.get(FAULTS_ROUTE, (c) => c.json(settings));
      app.put(FAULTS_ROUTE, async (c) => {
        const body = parseJsonBody(await c.req.text()) as Record<string, unknown>;
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw new ApiError(422, 'invalid_body', 'expected a JSON object of fault settings');
        }
        const next: { -readonly [K in keyof FaultSettings]?: FaultSettings[K] } = {};
        for (const [key, value] of Object.entries(body)) {
          if (key === 'latency_ms') {
            if (typeof value !== 'number' || !(value >= 0 && value <= 60_000)) {
              throw new ApiError(422, 'invalid_value', "'latency_ms' must be a number from 0 to 60000", { field: key });
            }
            next.latencyMs = value;
          } else if (key === 'latency_ratio') next.latencyRatio = ratio(value, key);
          else if (key === 'error_ratio') next.errorRatio = ratio(value, key);
          else if (key === 'error_status') {
            if (value !== 500 && value !== 503) throw new ApiError(422, 'invalid_value', "'error_status' must be 500 or 503", { field: key });
            next.errorStatus = value;
          } else throw new ApiError(422, 'unknown_field', `unknown fault setting '${key}'`, { field: key });
        }
        return c.json(injector.set(next));
      });
      app.delete(FAULTS_ROUTE, (c) => {
        injector.clear();
        return c.json(settings);
      });
    },
  };
  return injector;
}
