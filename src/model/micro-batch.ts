/**
 * Dynamic micro-batching of one-row predictions (as Triton's and BentoML's adaptive batchers do):
 * concurrent single-row requests share one ONNX call.
 *
 * onnxruntime-node's `session.run()` is synchronous native code on the JavaScript thread (its
 * async wrapper only defers it with `setImmediate`), so concurrent requests never overlap
 * inference with anything else. What batching wins is the fixed cost of a call (tensor wrap,
 * N-API crossing, session bookkeeping, one `setImmediate` hop), paid once per batch instead of
 * once per row. No timer is used, so no request ever waits for a clock. Two ways to decide when
 * a batch goes:
 *
 * - `adaptive` (the default; group commit, as databases do): a row that finds no batched
 *   inference running is run at once, alone, exactly as without batching; rows that arrive while
 *   one runs wait for it and then go together. At low load nothing is batched and nothing waits;
 *   under load a batch is whatever arrived during the previous inference.
 * - `turn`: rows that arrive in one event-loop turn go together in a `setImmediate` after it, so
 *   even a lone request waits one extra hop (measured: p99 1.3 × at one connection). Kept for the
 *   benchmark's comparison, not for serving.
 *
 * Every row is validated before it gets here (the body reader), so one client's bad input cannot
 * fail another's batch; an inference that fails does fail every request of its batch.
 */

/** A predict function with the model's signature: `rows` rows of `data`, one score per row. */
export type Predict = (data: Float32Array, rows: number) => Promise<Float32Array>;

/** How a batch is formed (see the module's comment). */
export type MicroBatchMode = 'adaptive' | 'turn';

/** Options for {@link createMicroBatcher}. */
export interface MicroBatchOptions {
  /** Features per row. */
  width: number;
  /** A batch goes as soon as it has this many rows. Default {@link DEFAULT_MICRO_BATCH_ROWS}. */
  maxRows?: number;
  /** Default `adaptive`. */
  mode?: MicroBatchMode;
}

/** Rows per batched call by default: past ~64 rows a call's fixed cost is already shared out. */
export const DEFAULT_MICRO_BATCH_ROWS = 64;

/** Counts since the batcher was made: one-row predictions and the inferences they took. */
export interface MicroBatchStats {
  calls: number;
  rows: number;
}

/** A batching front for a predict function. */
export interface MicroBatcher {
  /** Like the wrapped function: one-row calls are coalesced, larger calls pass straight through. */
  predict: Predict;
  readonly stats: Readonly<MicroBatchStats>;
}

interface Pending {
  data: Float32Array;
  resolve: (scores: Float32Array) => void;
  reject: (err: unknown) => void;
}

/** Wraps `run` (one model's inference) in a micro-batcher. */
export function createMicroBatcher(run: Predict, opts: MicroBatchOptions): MicroBatcher {
  const { width } = opts;
  const maxRows = opts.maxRows ?? DEFAULT_MICRO_BATCH_ROWS;
  const adaptive = (opts.mode ?? 'adaptive') === 'adaptive';
  const stats: MicroBatchStats = { calls: 0, rows: 0 };
  let pending: Pending[] = [];
  let scheduled = false;
  // Batched inferences started and not yet answered; adaptive rows wait while there is one.
  let running = 0;

  const settled = (): void => {
    running--;
    if (adaptive && running === 0 && pending.length > 0) flush();
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
    run(data, batch.length).then(
      (scores) => {
        // Views, not copies: each request reads only its own score.
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
    if (rows !== 1) return run(data, rows);
    return new Promise<Float32Array>((resolve, reject) => {
      pending.push({ data, resolve, reject });
      if (pending.length >= maxRows) flush();
      else if (adaptive) {
        if (running === 0) flush();
      } else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  };
  return { predict, stats };
}
