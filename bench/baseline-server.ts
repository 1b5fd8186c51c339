/**
 * The benchmark's baseline server: the service's `/predict` without any telemetry
 * (`createBaselineApp`), on the same @hono/node-server, model loading (`loadModel`) and server
 * options as the service. Run with plain `node`, never with the telemetry preload:
 *
 *   PORT=8001 HOST=127.0.0.1 node bench/baseline-server.ts
 *
 * MICRO_BATCH=true (or `turn`) or MICRO_BATCH=busy turns on the micro-batching prototype
 * (bench/microbatch.ts) in that mode for one-row requests, so the benchmark can measure it
 * against the plain baseline.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { Server } from 'node:http';
import { loadOrExit, loadServiceConfig } from '../src/config.ts';
import { loadModel } from '../src/model/model.ts';
import { createBaselineApp } from './baseline-app.ts';
import { createMicroBatcher } from './microbatch.ts';

const config = loadOrExit(() => loadServiceConfig());
const microBatch = ({ true: 'turn', turn: 'turn', busy: 'busy' } as const)[process.env.MICRO_BATCH ?? ''];
const model = await loadModel({
  modelPath: config.modelPath,
  cardPath: config.modelCardPath,
  maxBatch: config.maxBatch,
  intraOpThreads: config.ortIntraOpThreads,
});
const batcher = microBatch ? createMicroBatcher(model, { maxRows: Math.min(64, config.maxBatch), mode: microBatch }) : undefined;
const app = createBaselineApp({
  model,
  maxBodyBytes: config.maxBodyBytes,
  predict: batcher?.predict,
  extend: (a) => a.get('/bench/microbatch', (c) => c.json(batcher?.stats ?? null)),
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
