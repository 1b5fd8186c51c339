/**
 * The model admin API: `GET /admin/model` (the serving version) and `POST /admin/model`
 * (`{"file": "breast-cancer-v1.1.0.onnx"}`: roll out a model from the model folder). Registered
 * only when ADMIN_TOKEN is set, and every call needs `Authorization: Bearer <token>`.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Hono, MiddlewareHandler } from 'hono';
import type { Rollouts } from '../model/rollout.ts';
import type { ModelStore } from '../model/store.ts';
import { ApiError } from './errors.ts';
import { parseJsonBody } from './json.ts';

/** The admin route's path. */
export const ADMIN_MODEL_ROUTE = '/admin/model';

/** Options for {@link registerAdmin}. */
export interface AdminOptions {
  token: string;
  rollouts: Rollouts;
  models: ModelStore;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Bearer-token check in constant time (digests have equal length whatever the input). */
export function bearerAuth(token: string): MiddlewareHandler {
  const expected = digest(token);
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!given || !timingSafeEqual(digest(given), expected)) {
      c.header('WWW-Authenticate', 'Bearer');
      throw new ApiError(401, 'unauthorized', 'a valid bearer token is required');
    }
    await next();
  };
}

/** Registers the admin routes on `app`. */
export function registerAdmin(app: Hono, opts: AdminOptions): void {
  app.use(ADMIN_MODEL_ROUTE, bearerAuth(opts.token));
  app.get(ADMIN_MODEL_ROUTE, (c) => {
    const m = opts.models.current;
    return c.json({ name: m?.name, version: m?.version });
  });
  app.post(ADMIN_MODEL_ROUTE, async (c) => {
    const body = parseJsonBody(await c.req.text()) as { file?: unknown } | null;
    if (typeof body !== 'object' || body === null || typeof body.file !== 'string') {
      throw new ApiError(422, 'invalid_body', "expected {\"file\": \"<name>.onnx\"} naming a model in the model folder", { field: 'file' });
    }
    const result = await opts.rollouts.rollout(body.file);
    if (!result.ok) {
      const status = result.reason === 'invalid_name' ? 422 : result.reason === 'unreadable' ? 404 : 422;
      throw new ApiError(status, `rollout_refused`, result.message, { reason: result.reason, serving: opts.models.current?.version });
    }
    return c.json(result);
  });
}
