/**
 * The micro-batcher (src/model/micro-batch.ts) against an inference the test finishes by hand,
 * so when batches go and what they hold is observed exactly; then through a real model.
 */
import { describe, expect, it } from 'vitest';
import { createMicroBatcher, type Predict } from '../src/model/micro-batch.ts';
import { loadModel } from '../src/model/model.ts';
import { CARD_PATH, datasetRows, makeTestApp, MODEL_PATH, SERVICE_MICRO_BATCH } from './helpers/app.ts';
import { sampleValue, samplesOf, type Sample } from './helpers/exposition.ts';

const WIDTH = 2;

/** An inference whose calls are recorded and answered by `finish()` (score = first feature). */
function handModel() {
  const calls: { rows: number; data: Float32Array; finish: () => void; fail: (err: Error) => void }[] = [];
  const run: Predict = (data, rows) =>
    new Promise<Float32Array>((resolve, reject) => {
      calls.push({
        rows,
        data: data.slice(),
        finish: () => resolve(Float32Array.from({ length: rows }, (_, i) => data[i * WIDTH]!)),
        fail: reject,
      });
    });
  return { run, calls };
}

const row = (v: number) => Float32Array.of(v, -v);
const turn = () => new Promise<void>((r) => setImmediate(r));

describe('micro-batching, adaptive mode (the default)', () => {
  it('runs a request that finds no inference running at once, alone', async () => {
    const { run, calls } = handModel();
    const { predict, stats } = createMicroBatcher(run, { width: WIDTH });
    const p = predict(row(0.5), 1);
    expect(calls.map((c) => c.rows)).toEqual([1]); // synchronously: no hop before the model
    calls[0]!.finish();
    expect(Array.from(await p)).toEqual([0.5]);
    expect(stats).toEqual({ calls: 1, rows: 1 });
  });

  it('batches what arrives while an inference runs, in order, once it is answered', async () => {
    const { run, calls } = handModel();
    const { predict, stats } = createMicroBatcher(run, { width: WIDTH });
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
    const { run, calls } = handModel();
    const { predict } = createMicroBatcher(run, { width: WIDTH, maxRows: 2 });
    void predict(row(1), 1);
    void predict(row(2), 1);
    void predict(row(3), 1);
    expect(calls.map((c) => c.rows)).toEqual([1, 2]);
    void predict(Float32Array.of(1, 2, 3, 4, 5, 6), 3);
    expect(calls.map((c) => c.rows)).toEqual([1, 2, 3]);
  });

  it('fails every request of a failed batch, and goes on with the next', async () => {
    const { run, calls } = handModel();
    const { predict } = createMicroBatcher(run, { width: WIDTH });
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
    const { run, calls } = handModel();
    const { predict, stats } = createMicroBatcher(run, { width: WIDTH, mode: 'turn' });
    const ps = [predict(row(1), 1), predict(row(2), 1)];
    expect(calls).toHaveLength(0);
    await turn();
    expect(calls.map((c) => c.rows)).toEqual([2]);
    calls[0]!.finish();
    expect((await Promise.all(ps)).map((s) => Array.from(s))).toEqual([[1], [2]]);
    expect(stats).toEqual({ calls: 1, rows: 2 });
  });
});

describe('micro-batching a real model', () => {
  it('answers concurrent one-row calls in two inferences, each row as it scores alone', async () => {
    const { rows } = datasetRows();
    const plain = await loadModel({ modelPath: MODEL_PATH, cardPath: CARD_PATH, maxBatch: 64 });
    const batched = await loadModel({ modelPath: MODEL_PATH, cardPath: CARD_PATH, maxBatch: 64, microBatch: SERVICE_MICRO_BATCH });
    const data = rows.slice(0, 50).map((r) => Float32Array.from(r));
    const alone = await Promise.all(data.map(async (d) => (await plain.predict(d, 1))[0]!));
    const together = await Promise.all(data.map(async (d) => (await batched.predict(d, 1))[0]!));
    // The first ran alone; the 49 that arrived while it ran went as one batch.
    expect(batched.microBatch).toEqual({ calls: 2, rows: 50 });
    expect(plain.microBatch).toBeUndefined();
    for (let i = 0; i < data.length; i++) expect(together[i]).toBeCloseTo(alone[i]!, 6);
    await Promise.all([plain.release(), batched.release()]);
  });

  it('is off at MICRO_BATCH_MAX_ROWS=1', async () => {
    const model = await loadModel({ modelPath: MODEL_PATH, cardPath: CARD_PATH, maxBatch: 64, microBatch: { maxRows: 1 } });
    expect(model.microBatch).toBeUndefined();
    await model.release();
  });
});

describe('the API with micro-batching (the service default)', () => {
  const { rows, features } = datasetRows();
  const named = (row: number[]) => Object.fromEntries(features.map((f, i) => [f, row[i]]));
  const count = (samples: Sample[], status: number) =>
    sampleValue(samples, 'api_request_total', { method: 'POST', endpoint: '/predict', http_status: String(status) }) ?? 0;

  it('answers concurrent requests with their own rows, each counted and timed', async () => {
    const t = await makeTestApp();
    const u = await makeTestApp({ microBatch: false });
    const before = t.models.current!.microBatch!.calls;
    const responses = await Promise.all(rows.slice(0, 40).map((r) => t.predict({ features: named(r) })));
    const bodies = await Promise.all(responses.map((r) => r.json()));
    expect(responses.map((r) => r.status)).toEqual(Array(40).fill(200));
    // Fewer inferences than requests: they were batched.
    expect(t.models.current!.microBatch!.calls - before).toBeLessThan(40);
    for (let i = 0; i < 40; i++) {
      const alone = await (await u.predict({ features: named(rows[i]!) })).json();
      expect(bodies[i].label).toBe(alone.label);
      expect(bodies[i].prediction).toBeCloseTo(alone.prediction, 6);
    }
    const samples = await t.scrape();
    expect(count(samples, 200)).toBe(40);
    expect(sampleValue(samples, 'api_request_duration_seconds_count', { method: 'POST', endpoint: '/predict' })).toBe(40);
    expect(samplesOf(samples, 'api_prediction_total').reduce((a, s) => a + s.value, 0)).toBe(40);
    await Promise.all([t.close(), u.close()]);
  });

  it('rejects a bad request among concurrent good ones before batching: only it fails', async () => {
    const t = await makeTestApp();
    const missing = named(rows[3]!);
    delete missing[features[0]!];
    const bodies: unknown[] = [{ features: rows[0] }, '{"features": [1, 2', { features: rows[1] }, { features: missing }, { features: rows[2] }];
    const responses = await Promise.all(bodies.map((b) => t.predict(b)));
    expect(responses.map((r) => r.status)).toEqual([200, 400, 200, 422, 200]);
    expect(t.models.current!.microBatch!.rows).toBe(3);
    const samples = await t.scrape();
    expect([count(samples, 200), count(samples, 400), count(samples, 422)]).toEqual([3, 1, 1]);
    await t.close();
  });

  it('fails every request of a failed inference with a 500, counted, and serves the next', async () => {
    const t = await makeTestApp();
    const model = t.models.current!;
    let broken = true;
    const calls: number[] = [];
    // An inference that fails until it is mended, as a native fault would.
    const run: Predict = (data, rows) => (calls.push(rows), broken ? Promise.reject(new Error('native fault')) : model.predict(data, rows));
    t.models.swap({ ...model, predict: createMicroBatcher(run, { width: model.featureCount }).predict });
    const responses = await Promise.all(rows.slice(0, 5).map((r) => t.predict({ features: r })));
    expect(responses.map((r) => r.status)).toEqual([500, 500, 500, 500, 500]);
    expect((await responses[1]!.json()).error.code).toBe('internal_error');
    // Five requests, fewer inferences: at least one failed batch failed several requests.
    expect(calls.reduce((a, b) => a + b, 0)).toBe(5);
    expect(calls.length).toBeLessThan(5);
    broken = false;
    expect((await t.predict({ features: rows[0] })).status).toBe(200);
    const samples = await t.scrape();
    expect([count(samples, 500), count(samples, 200)]).toEqual([5, 1]);
    await t.close();
  });
});
