/**
 * The benchmark's baseline server: the service's `/predict` without any telemetry
 * (`createBaselineApp`), on the same @hono/node-server, model loading (`loadModel`) and server
 * options as the service. Run with plain `node`, never with the telemetry preload:
 *
 *   PORT=8001 HOST=127.0.0.1 node bench/baseline-server.ts
 *
 * It micro-batches one-row predictions as the service does, from the same settings
 * (MICRO_BATCH_MAX_ROWS, MICRO_BATCH_MODE); `GET /bench/microbatch` gives the batcher's counts,
 * so the benchmark can report rows per ONNX call.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { Server } from 'node:http';
import { loadOrExit, loadServiceConfig, modelSettings } from '../src/config.ts';
import { loadModel } from '../src/model/model.ts';
import { createBaselineApp } from './baseline-app.ts';

const config = loadOrExit(() => loadServiceConfig());
const model = await loadModel({
  modelPath: config.modelPath,
  cardPath: config.modelCardPath,
  ...modelSettings(config),
});
const app = createBaselineApp({
  model,
  maxBodyBytes: config.maxBodyBytes,
  extend: (a) => a.get('/bench/microbatch', (c) => c.json(model.microBatch ?? null)),
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
