/**
 * Model rollouts without a restart. A candidate is fully loaded and checked (card, hash,
 * onnxruntime, smoke prediction) before the atomic swap; a refused candidate is logged and
 * counted, and the serving model is untouched. The old session is released only after the
 * longest a request may take, so a request that took the old model before the swap finishes on it.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import type { Logger } from '../log.ts';
import type { ServiceMetrics } from '../../telemetry/metrics.ts';
import { loadModel, ModelLoadError, type LoadedModel, type ModelSettings } from './model.ts';
import type { ModelStore } from './store.ts';

/** Options for {@link createRollouts}. */
export interface RolloutOptions {
  store: ModelStore;
  metrics: ServiceMetrics;
  logger: Logger;
  /** Candidates must live in this folder: a rollout request cannot name any other file. */
  modelDir: string;
  /** How candidates are loaded: the serving model's settings. */
  settings: ModelSettings;
  /** How long the previous model is kept after a swap (the request timeout). */
  releaseAfterMs: number;
}

/** The outcome of a rollout. */
export type RolloutResult =
  | { ok: true; previous: string | undefined; version: string; name: string; path: string }
  | { ok: false; reason: string; message: string };

/** Loads and swaps models. */
export interface Rollouts {
  /** Loads `<modelDir>/<file>` (and its `.card.json`), and swaps it in if every check passes. */
  rollout(file: string): Promise<RolloutResult>;
}

const MODEL_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.onnx$/;

/** Creates the rollout controller. */
export function createRollouts(opts: RolloutOptions): Rollouts {
  let queue: Promise<unknown> = Promise.resolve();
  const dir = resolve(opts.modelDir);

  async function rolloutNow(file: string): Promise<RolloutResult> {
    if (!MODEL_FILE.test(file)) {
      return { ok: false, reason: 'invalid_name', message: `'${file}' is not a model file name (letters, digits, . _ -, ending .onnx)` };
    }
    const modelPath = resolve(dir, file);
    const rel = relative(dir, modelPath);
    if (rel.startsWith('..') || isAbsolute(rel)) return { ok: false, reason: 'invalid_name', message: `'${file}' is outside the model folder` };
    let model: LoadedModel;
    try {
      model = await loadModel({
        modelPath,
        cardPath: modelPath.replace(/\.onnx$/, '.card.json'),
        ...opts.settings,
      });
    } catch (err) {
      const reason = err instanceof ModelLoadError ? err.reason : 'runtime_rejected';
      opts.metrics.recordLoadFailure(reason);
      const message = (err as Error).message;
      opts.logger.error('model rollout refused; the serving model is unchanged', { reason, path: modelPath, err: message, serving: opts.store.current?.version });
      return { ok: false, reason, message };
    }
    const previous = opts.store.swap(model);
    if (previous && previous !== model) setTimeout(() => void previous.release().catch(() => {}), opts.releaseAfterMs).unref();
    opts.logger.info('model rolled out', { name: model.name, version: model.version, previous: previous?.version, path: modelPath });
    return { ok: true, previous: previous?.version, version: model.version, name: model.name, path: modelPath };
  }

  return {
    // One rollout at a time, in order: two concurrent requests must not race their swaps.
    rollout(file) {
      const next = queue.then(() => rolloutNow(file));
      queue = next.catch(() => {});
      return next;
    },
  };
}
