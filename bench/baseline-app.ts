/**
 * The benchmark baseline's app: the service's `POST /predict` with no telemetry at all. It uses
 * the service's Hono setup, body guard (`jsonBodyGuard`), body reader (the model's `parseBody`:
 * the native reader, or strict JSON parsing and the row parser) and response shape, with no
 * OpenTelemetry, no request metrics and no quality monitor. `bench/baseline-server.ts` serves it as its own process; `bench/in-process.ts` serves
 * it beside service apps in one process.
 */
import { Hono } from 'hono';
import { ApiError, errorBody } from '../src/http/errors.ts';
import { jsonBodyGuard, predictionResponse } from '../src/http/predict.ts';
import type { LoadedModel } from '../src/model/model.ts';

/** Options for {@link createBaselineApp}. */
export interface BaselineAppOptions {
  model: LoadedModel;
  maxBodyBytes: number;
  /** Extra routes (the micro-batching stats). */
  extend?: (app: Hono) => void;
}

/** Builds the baseline app. */
export function createBaselineApp(opts: BaselineAppOptions): Hono {
  const { model } = opts;
  const app = new Hono();
  app.post('/predict', jsonBodyGuard(opts.maxBodyBytes), async (c) => {
    const input = model.parseBody(await c.req.arrayBuffer());
    const scores = await model.predict(input.data, input.rows);
    return c.json(predictionResponse(model, input, scores).body);
  });
  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.get('/ready', (c) => c.json({ status: 'ready', model_version: model.version }));
  opts.extend?.(app);
  app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404));
  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json(errorBody(err.code, err.message, err.details), err.status);
    process.stderr.write(`unhandled error: ${err.stack ?? String(err)}\n`);
    return c.json(errorBody('internal_error', 'an internal error occurred'), 500);
  });
  return app;
}
