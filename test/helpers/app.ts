/** Builds the real app (real model, real OpenTelemetry SDK) for in-process tests. */
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { silentLogger } from '../../src/log.ts';
import { DEFAULT_DRIFT_OPTIONS } from '../../src/model/drift.ts';
import { createQualityMonitor, NO_QUALITY, type QualityMonitor, type QualityOptions } from '../../src/model/quality.ts';
import { createRollouts } from '../../src/model/rollout.ts';
import { createApp } from '../../src/app.ts';
import { DEFAULT_MODEL_PATH, loadServiceConfig } from '../../src/config.ts';
import { loadModel, type LoadedModel, type LoadModelOptions } from '../../src/model/model.ts';
import { ModelStore } from '../../src/model/store.ts';
import { createServiceMetrics } from '../../telemetry/metrics.ts';
import { PreaggregatedMetrics } from '../../telemetry/preaggregated.ts';
import { prometheusRenderer, PrometheusPullExporter } from '../../telemetry/sdk.ts';
import { parseExposition, type Sample } from './exposition.ts';
import { REPO_ROOT } from './tools.ts';

export const MODEL_PATH = join(REPO_ROOT, DEFAULT_MODEL_PATH);
export const CARD_PATH = MODEL_PATH.replace(/\.onnx$/, '.card.json');

/** The service's default micro-batching (adaptive), as `npm start` gets it. */
export const SERVICE_MICRO_BATCH = loadServiceConfig({}).microBatch;

/** Loads the bundled model (without micro-batching unless asked). */
export function loadBundledModel(maxBatch = 1024, microBatch?: LoadModelOptions['microBatch']): Promise<LoadedModel> {
  return loadModel({ modelPath: MODEL_PATH, cardPath: CARD_PATH, maxBatch, microBatch });
}

/** The data set's rows and labels, in file order. */
export function datasetRows(): { features: string[]; rows: number[][]; labels: number[] } {
  const lines = readFileSync(join(REPO_ROOT, 'data/breast-cancer-wisconsin.csv'), 'utf8').trim().split('\n');
  const header = lines[0]!.split(',');
  const rows = lines.slice(1).map((l) => l.split(',').map(Number));
  return { features: header.slice(0, -1), rows: rows.map((r) => r.slice(0, -1)), labels: rows.map((r) => r[r.length - 1]!) };
}

/** A Response whose JSON body tests read without casts. */
export type JsonResponse = Omit<Response, 'json'> & { json(): Promise<any> };

/** A test app wired to a real meter provider whose exposition the test can read. */
export async function makeTestApp(
  opts: {
    maxBodyBytes?: number;
    maxBatch?: number;
    quality?: Partial<QualityOptions>;
    adminToken?: string;
    modelDir?: string;
    /** The service's default unless given; `false` turns micro-batching off. */
    microBatch?: LoadModelOptions['microBatch'] | false;
  } = {},
) {
  const microBatch = opts.microBatch === false ? undefined : (opts.microBatch ?? SERVICE_MICRO_BATCH);
  const preaggregated = new PreaggregatedMetrics();
  const exporter = new PrometheusPullExporter({ preventServerStart: true, withoutScopeInfo: true, metricProducers: [preaggregated.producer()] });
  const meterProvider = new MeterProvider({ readers: [exporter] });
  const models = new ModelStore(await loadBundledModel(opts.maxBatch, microBatch));
  const state = { ready: true };
  const render = prometheusRenderer(exporter);
  let quality: QualityMonitor = NO_QUALITY;
  const metrics = createServiceMetrics(meterProvider.getMeter('test'), {
    preaggregated,
    currentModel: () => {
      const m = models.current;
      return m && { name: m.name, version: m.version, baselinePositiveRate: m.card.baseline.score.positive_rate };
    },
    drift: () => quality.drift(models.current),
  });
  quality = createQualityMonitor(metrics, { enabled: true, ...DEFAULT_DRIFT_OPTIONS, ...opts.quality });
  const rollouts = createRollouts({
    store: models,
    metrics,
    logger: silentLogger,
    modelDir: opts.modelDir ?? dirname(MODEL_PATH),
    settings: { maxBatch: opts.maxBatch ?? 1024, microBatch },
    releaseAfterMs: 1000,
  });
  const app = createApp({
    models,
    metrics,
    isReady: () => state.ready,
    renderMetrics: render,
    limits: { maxBodyBytes: opts.maxBodyBytes },
    quality,
    admin: opts.adminToken ? { token: opts.adminToken, rollouts } : undefined,
  });
  const scrape = async (): Promise<Sample[]> => parseExposition(await render());
  const request = async (path: string, init?: RequestInit): Promise<JsonResponse> => app.request(path, init);
  const predict = (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    request('/predict', { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { app, models, state, render, scrape, request, predict, rollouts, quality, close: () => meterProvider.shutdown() };
}
