/**
 * A dynamic micro-batching prototype (as Triton's and BentoML's adaptive batchers do): single-row
 * predictions that arrive in the same event-loop turn are run as one ONNX call.
 *
 * onnxruntime-node's `session.run()` is synchronous native code on the JavaScript thread (its
 * async wrapper only defers it with `setImmediate`), so concurrency never overlaps inference with
 * anything else. What batching can win is the fixed per-call cost (tensor wrap, N-API crossing,
 * session bookkeeping, one setImmediate hop), paid once per batch instead of once per row. No
 * timer is used. Two ways to decide when a batch goes:
 *
 * - `turn`: rows that arrive in the same event-loop turn are flushed together by a `setImmediate`
 *   in the check phase right after the poll phase that received them, so a lone request waits for
 *   one extra `setImmediate`.
 * - `busy` (adaptive, like a database's group commit): a row that finds no inference running is
 *   run at once, alone, exactly as without batching; rows that arrive while one runs wait for it
 *   and then go together. At low load nothing is ever batched and nothing waits; under load the
 *   batch is whatever arrived during the previous inference.
 */
import type { LoadedModel } from '../src/model/model.ts';

interface Pending {
  data: Float32Array;
  resolve: (scores: Float32Array) => void;
  reject: (err: unknown) => void;
}

/** A predict function with the model's signature. */
export type Predict = (data: Float32Array, rows: number) => Promise<Float32Array>;

/** Statistics of the batcher, for the benchmark. */
export interface MicroBatchStats {
  calls: number;
  rows: number;
}

/** How {@link createMicroBatcher} decides when a batch goes (see the module's comment). */
export type MicroBatchMode = 'turn' | 'busy';

/** Options for {@link createMicroBatcher}. */
export interface MicroBatchOptions {
  /** A batch goes as soon as it has this many rows. */
  maxRows: number;
  /** Default `turn`. */
  mode?: MicroBatchMode;
}

/** Wraps `model.predict`: one-row calls are coalesced, larger calls pass straight through. */
export function createMicroBatcher(model: LoadedModel, opts: MicroBatchOptions): { predict: Predict; stats: MicroBatchStats } {
  const width = model.featureCount;
  const busyMode = opts.mode === 'busy';
  const stats: MicroBatchStats = { calls: 0, rows: 0 };
  let pending: Pending[] = [];
  let scheduled = false;
  // Batched inferences started and not yet answered (`busy` mode waits while there is one).
  let running = 0;

  const settled = (): void => {
    running--;
    if (busyMode && running === 0 && pending.length > 0) flush();
  };

  const flush = (): void => {
    scheduled = false;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    stats.calls++;
    stats.rows += batch.length;
    let data: Float32Array;
    if (batch.length === 1) data = batch[0]!.data;
    else {
      data = new Float32Array(batch.length * width);
      for (let i = 0; i < batch.length; i++) data.set(batch[i]!.data, i * width);
    }
    running++;
    model.predict(data, batch.length).then(
      (scores) => {
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(scores.subarray(i, i + 1));
        settled();
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
        settled();
      },
    );
  };

  const predict: Predict = (data, rows) => {
    if (rows !== 1) return model.predict(data, rows);
    return new Promise<Float32Array>((resolve, reject) => {
      pending.push({ data, resolve, reject });
      if (pending.length >= opts.maxRows) flush();
      else if (busyMode) {
        if (running === 0) flush();
      } else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  };
  return { predict, stats };
}
