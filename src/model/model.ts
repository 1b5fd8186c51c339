/**
 * Loading an ONNX model with its card, and running it. A model is only returned once it has
 * passed every check (artifact hash, input/output names, a smoke prediction), so a bad file
 * can never reach the serving path.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { readCard, type ModelCard, type ModelCardError } from './card.ts';
import { createMicroBatcher, DEFAULT_MICRO_BATCH_ROWS, type MicroBatchOptions, type MicroBatchStats, type Predict } from './micro-batch.ts';
import { createBodyParser, type BodyParser } from './native-rows.ts';
import type { LoadFailureReason } from '../../telemetry/metrics.ts';

/** A loaded, checked model ready to serve. */
export interface LoadedModel {
  readonly card: ModelCard;
  readonly name: string;
  readonly version: string;
  readonly featureCount: number;
  /** Reads a request body (its bytes) into this model's input tensor. */
  readonly parseBody: BodyParser;
  /** Probabilities of the positive class, one per row (one-row calls micro-batched when on). */
  predict(data: Float32Array, rows: number): Promise<Float32Array>;
  /** The micro-batcher's counts, when micro-batching is on. */
  readonly microBatch: Readonly<MicroBatchStats> | undefined;
  /** Frees the native session. */
  release(): Promise<void>;
}

/** Raised when a model or its card cannot be loaded or fails its checks. */
export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
  /** Which check refused it: the `reason` label of model_load_failures_total. */
  readonly reason: LoadFailureReason;
  constructor(reason: LoadFailureReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** Options for {@link loadModel}. */
export interface LoadModelOptions {
  modelPath: string;
  cardPath: string;
  maxBatch: number;
  /**
   * onnxruntime's intra-op thread count. One is right for this model: a 30×1 MatMul is far
   * cheaper than waking a thread pool, and the event loop is the real bottleneck.
   */
  intraOpThreads?: number;
  /** Micro-batching of concurrent one-row predictions (./micro-batch.ts); off when omitted or at `maxRows` 1. */
  microBatch?: Omit<MicroBatchOptions, 'width'>;
}

/** Everything {@link loadModel} takes besides the files: the same for every model a process loads. */
export type ModelSettings = Omit<LoadModelOptions, 'modelPath' | 'cardPath'>;

/** Loads and checks a model; throws {@link ModelLoadError} naming what was wrong. */
export async function loadModel(opts: LoadModelOptions): Promise<LoadedModel> {
  let bytes: Buffer;
  try {
    bytes = await readFile(opts.modelPath);
  } catch (err) {
    throw new ModelLoadError('unreadable', `cannot read model ${opts.modelPath}: ${(err as Error).message}`);
  }
  let card: ModelCard;
  try {
    card = await readCard(opts.cardPath);
  } catch (err) {
    throw new ModelLoadError((err as ModelCardError).unreadable ? 'unreadable' : 'invalid_card', (err as Error).message);
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (card.artifact?.sha256 && card.artifact.sha256 !== sha) {
    throw new ModelLoadError('hash_mismatch', `model ${opts.modelPath} does not match its card: sha256 ${sha}, card says ${card.artifact.sha256}`);
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: opts.intraOpThreads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (err) {
    throw new ModelLoadError('runtime_rejected', `onnxruntime cannot load ${opts.modelPath}: ${(err as Error).message}`);
  }
  const inputName = card.input.name;
  const outputName = card.output.name;
  if (!session.inputNames.includes(inputName) || !session.outputNames.includes(outputName)) {
    await session.release();
    throw new ModelLoadError(
      'runtime_rejected',
      `model ${opts.modelPath} has inputs [${session.inputNames}] and outputs [${session.outputNames}]; the card expects '${inputName}' -> '${outputName}'`,
    );
  }
  const width = card.input.features.length;
  const run: Predict = async (data, rows) => {
    const feeds = { [inputName]: new ort.Tensor('float32', data, [rows, width]) };
    const out = await session.run(feeds);
    return out[outputName]!.data as Float32Array;
  };
  // One batcher per model: a batch never mixes two versions, and a swapped-out model's queue
  // drains on its own session.
  const batcher = opts.microBatch && (opts.microBatch.maxRows ?? DEFAULT_MICRO_BATCH_ROWS) > 1 ? createMicroBatcher(run, { ...opts.microBatch, width }) : undefined;

  const model: LoadedModel = {
    card,
    name: card.name,
    version: card.version,
    featureCount: width,
    parseBody: createBodyParser({ features: card.input.features, maxBatch: opts.maxBatch }),
    predict: batcher?.predict ?? run,
    microBatch: batcher?.stats,
    release: () => session.release(),
  };

  // Smoke prediction on the training means: the output must be one probability in [0, 1].
  const probe = Float32Array.from(card.input.features, (f) => card.baseline?.features?.[f]?.mean ?? 0);
  let p: Float32Array;
  try {
    p = await run(probe, 1);
  } catch (err) {
    await session.release();
    throw new ModelLoadError('smoke_failed', `smoke prediction failed for ${opts.modelPath}: ${(err as Error).message}`);
  }
  if (p.length !== 1 || !(p[0]! >= 0 && p[0]! <= 1)) {
    await session.release();
    throw new ModelLoadError('smoke_failed', `smoke prediction of ${opts.modelPath} returned ${Array.from(p)}, not one probability in [0, 1]`);
  }
  return model;
}
