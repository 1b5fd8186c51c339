/**
 * The micro-batching prototype (bench/microbatch.ts) against a model whose inference the test
 * finishes by hand, so when batches go and what they hold is observed exactly.
 */
import { describe, expect, it } from 'vitest';
import { createMicroBatcher } from '../bench/microbatch.ts';
import type { LoadedModel } from '../src/model/model.ts';

const WIDTH = 2;

/** A model whose `predict` calls are recorded and answered by `finish(i)` (score = first feature). */
function handModel() {
  const calls: { rows: number; data: Float32Array; finish: () => void; fail: (err: Error) => void }[] = [];
  const model = {
    featureCount: WIDTH,
    predict: (data: Float32Array, rows: number) =>
      new Promise<Float32Array>((resolve, reject) => {
        calls.push({
          rows,
          data: data.slice(),
          finish: () => resolve(Float32Array.from({ length: rows }, (_, i) => data[i * WIDTH]!)),
          fail: reject,
        });
      }),
  } as unknown as LoadedModel;
  return { model, calls };
}

const row = (v: number) => Float32Array.of(v, -v);
const turn = () => new Promise<void>((r) => setImmediate(r));

describe('micro-batching, busy mode', () => {
  it('runs a request that finds no inference running at once, alone', async () => {
    const { model, calls } = handModel();
    const { predict, stats } = createMicroBatcher(model, { maxRows: 64, mode: 'busy' });
    const p = predict(row(0.5), 1);
    expect(calls.map((c) => c.rows)).toEqual([1]); // synchronously: no hop before the model
    calls[0]!.finish();
    expect(Array.from(await p)).toEqual([0.5]);
    expect(stats).toEqual({ calls: 1, rows: 1 });
  });

  it('batches what arrives while an inference runs, in order, once it is answered', async () => {
    const { model, calls } = handModel();
    const { predict, stats } = createMicroBatcher(model, { maxRows: 64, mode: 'busy' });
    const first = predict(row(0.1), 1);
    const waiting = [predict(row(0.2), 1), predict(row(0.3), 1), predict(row(0.4), 1)];
    await turn();
    expect(calls.map((c) => c.rows)).toEqual([1]); // the three wait for the running one
    calls[0]!.finish();
    expect(Array.from(await first)).toEqual([Math.fround(0.1)]);
    expect(calls.map((c) => c.rows)).toEqual([1, 3]);
    expect(Array.from(calls[1]!.data)).toEqual(Array.from([0.2, -0.2, 0.3, -0.3, 0.4, -0.4], Math.fround));
    calls[1]!.finish();
    expect((await Promise.all(waiting)).map((s) => Array.from(s))).toEqual([[Math.fround(0.2)], [Math.fround(0.3)], [Math.fround(0.4)]]);
    expect(stats).toEqual({ calls: 2, rows: 4 });
  });

  it('sends a full batch without waiting, and passes multi-row calls straight through', async () => {
    const { model, calls } = handModel();
    const { predict } = createMicroBatcher(model, { maxRows: 2, mode: 'busy' });
    void predict(row(1), 1);
    void predict(row(2), 1);
    void predict(row(3), 1);
    expect(calls.map((c) => c.rows)).toEqual([1, 2]);
    void predict(Float32Array.of(1, 2, 3, 4, 5, 6), 3);
    expect(calls.map((c) => c.rows)).toEqual([1, 2, 3]);
  });

  it('fails every request of a failed batch, and goes on with the next', async () => {
    const { model, calls } = handModel();
    const { predict } = createMicroBatcher(model, { maxRows: 64, mode: 'busy' });
    const first = predict(row(1), 1);
    const batch = [predict(row(2), 1), predict(row(3), 1)];
    calls[0]!.finish();
    await first;
    calls[1]!.fail(new Error('boom'));
    await Promise.all(batch.map((p) => expect(p).rejects.toThrow('boom')));
    const after = predict(row(4), 1);
    expect(calls.map((c) => c.rows)).toEqual([1, 2, 1]);
    calls[2]!.finish();
    expect(Array.from(await after)).toEqual([4]);
  });
});

describe('micro-batching, turn mode', () => {
  it('sends the rows of one event-loop turn together, after it', async () => {
    const { model, calls } = handModel();
    const { predict, stats } = createMicroBatcher(model, { maxRows: 64 });
    const ps = [predict(row(1), 1), predict(row(2), 1)];
    expect(calls).toHaveLength(0);
    await turn();
    expect(calls.map((c) => c.rows)).toEqual([2]);
    calls[0]!.finish();
    expect((await Promise.all(ps)).map((s) => Array.from(s))).toEqual([[1], [2]]);
    expect(stats).toEqual({ calls: 1, rows: 2 });
  });
});
