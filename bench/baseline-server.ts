/**
 * The benchmark's baseline: the service's `/predict` without any telemetry. Same Hono and
 * @hono/node-server, same model loading (`loadModel`), same body checks (content type, body
 * limit), same strict JSON parsing (`parseJsonBody`) and row parser, same response shape; no
 * OpenTelemetry, no metrics middleware, no quality monitor. Run with plain `node`, never with
 * the telemetry preload:
 *
 *   PORT=8001 HOST=127.0.0.1 node bench/baseline-server.ts
 *
 * MICRO_BATCH=true turns on the micro-batching prototype (bench/microbatch.ts) for one-row
 * requests, so the benchmark can measure it against the plain baseline.
 */
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type { Server } from 'node:http';
import { loadOrExit, loadServiceConfig } from '../src/config.ts';
import { ApiError, errorBody } from '../src/http/errors.ts';
import { parseJsonBody } from '../src/http/json.ts';
import { jsonBodyGuard, predictionResponse } from '../src/http/predict.ts';
import { loadModel } from '../src/model/model.ts';
import { createMicroBatcher, type Predict } from './microbatch.ts';

const config = loadOrExit(() => loadServiceConfig());
const microBatch = process.env.MICRO_BATCH === 'true';
const model = await loadModel({
  modelPath: config.modelPath,
  cardPath: config.modelCardPath,
  maxBatch: config.maxBatch,
  intraOpThreads: config.ortIntraOpThreads,
});
const batcher = microBatch ? createMicroBatcher(model, { maxRows: Math.min(64, config.maxBatch) }) : undefined;
const predict: Predict = batcher ? batcher.predict : (data, rows) => model.predict(data, rows);
const maxBodyBytes = config.maxBodyBytes;

const app = new Hono();
const bodyGuard = jsonBodyGuard(maxBodyBytes);
app.post('/predict', bodyGuard, async (c) => {
  const input = model.parseRows(parseJsonBody(await c.req.text()));
  const scores = await predict(input.data, input.rows);
  return c.json(predictionResponse(model, input, scores).body);
});
app.get('/health', (c) => c.json({ status: 'ok' }));
app.get('/ready', (c) => c.json({ status: 'ready', model_version: model.version }));
app.get('/bench/microbatch', (c) => c.json(batcher?.stats ?? null));
app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404));
app.onError((err, c) => {
  if (err instanceof ApiError) return c.json(errorBody(err.code, err.message, err.details), err.status);
  process.stderr.write(`unhandled error: ${err.stack ?? String(err)}\n`);
  return c.json(errorBody('internal_error', 'an internal error occurred'), 500);
});

// The service's HTTP server options, so both servers keep connections the same way.
const server = serve({
  fetch: app.fetch,
  port: config.port,
  hostname: config.host,
  serverOptions: {
    requestTimeout: config.requestTimeoutMs,
    headersTimeout: Math.min(config.headersTimeoutMs, config.requestTimeoutMs),
    keepAliveTimeout: config.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
  },
}) as ServerType as Server;

const stop = () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
