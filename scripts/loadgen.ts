/**
 * `npm run loadgen`: realistic traffic against a running service.
 *
 *   npm run loadgen -- [--url http://127.0.0.1:8000] [--rate 20] [--duration 60]
 *                      [--batch 1 | --batch 1,8,64] [--bad-share 0.05]
 *                      [--drift "mean_radius*1.5,worst_area*1.5"] [--seed 1] [--json]
 *
 * Prints a live line each second and a final summary (as JSON with --json).
 */
import { parseArgs } from 'node:util';
import { parseDrift, readRows, runLoad, type LoadSummary } from './lib/loadgen.ts';

const { values: a } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8000' },
    rate: { type: 'string', default: '20' },
    duration: { type: 'string', default: '60' },
    batch: { type: 'string', default: '1' },
    'bad-share': { type: 'string', default: '0' },
    drift: { type: 'string', default: '' },
    seed: { type: 'string', default: '1' },
    data: { type: 'string', default: 'data/breast-cancer-wisconsin.csv' },
    json: { type: 'boolean', default: false },
  },
});

const num = (name: string, v: string, min: number, max: number) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) {
    console.error(`--${name} must be a number from ${min} to ${max}, got '${v}'`);
    process.exit(2);
  }
  return n;
};

const { features } = readRows(a.data!);
let drift;
try {
  drift = parseDrift(a.drift!, features);
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
const batchSizes = a.batch!.split(',').map((s) => num('batch', s, 1, 100_000));
const line = (s: LoadSummary) =>
  `${s.elapsedS.toFixed(0).padStart(4)}s sent ${s.sent} (${(s.sent / Math.max(s.elapsedS, 1e-3)).toFixed(1)}/s) rows ${s.rows} ` +
  `status ${JSON.stringify(s.byStatus)} errors ${s.errors} dropped ${s.dropped} p50 ${s.latencyMs.p50.toFixed(1)}ms p99 ${s.latencyMs.p99.toFixed(1)}ms`;

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
const summary = await runLoad({
  url: a.url!.replace(/\/$/, ''),
  rate: num('rate', a.rate!, 0.1, 100_000),
  durationS: num('duration', a.duration!, 0.1, 86_400),
  batchSizes,
  badShare: num('bad-share', a['bad-share']!, 0, 1),
  drift,
  seed: num('seed', a.seed!, 0, 2 ** 32),
  dataPath: a.data!,
  signal: controller.signal,
  onProgress: a.json ? undefined : (s) => console.log(line(s)),
});
if (a.json) console.log(JSON.stringify(summary));
else {
  console.log(`done: ${line(summary)}`);
  if (drift.length) console.log(`drift applied: ${a.drift}`);
}
