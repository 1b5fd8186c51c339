/**
 * A diagnostic beside `npm run bench`: what a quiet spell does to a server's compiled code. It
 * starts one server with V8's deoptimisation log, loads it, then alternates idle spells and
 * bursts (as the benchmark's processes, and a real service's traffic, do), scraping both
 * `/metrics` ports once a second throughout when the server has them. It prints each burst's
 * throughput and the deoptimisations after the first load, grouped by second and reason.
 *
 * Why: with V8's memory reducer on, a memory-reducing full GC came 5-13 s into an idle spell and
 * deoptimised 135-137 functions of the service's request path at once ("embedded weak objects
 * cleared": the maps their code was specialised for had no live object while the service was
 * quiet), so the next burst ran on unoptimised code (session 15 in docs/benchmark.md). The start
 * script's `--no-memory-reducer` is what this checks.
 *
 *   node bench/idle-deopt.ts                                      # the default service, npm start's flags
 *   node bench/idle-deopt.ts --config baseline
 *   node bench/idle-deopt.ts --flags=--memory-reducer            # put the reducer back (the last flag wins)
 *   node bench/idle-deopt.ts --flags='--memory-reducer --trace-memory-reducer'   # and when its GCs came
 *   node bench/idle-deopt.ts --cycles 6 --idle 15 --burst 5
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { applyPinning, baselineArgs, planPinning, runLoad, serviceArgs, sleep, startScraper, startServer, writeBodies } from './lib.ts';

/** One deoptimisation from V8's log. */
export interface Deopt {
  /** Seconds since the process started. */
  readonly atS: number;
  /** `deopt-eager`, `dependency-change`… */
  readonly kind: string;
  /** The function, as `<file:line:column>`. */
  readonly fn: string;
  readonly reason: string;
}

/**
 * The `code-deopt` events of a V8 log (`--log-deopt --logfile=…`): `code-deopt,<µs since
 * start>,<code size>,<address>,<inlining id>,<script offset>,<kind>,<function>,<reason>`. The
 * reason is the rest of the line (it may hold commas).
 */
export function parseDeopts(log: string): Deopt[] {
  const out: Deopt[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('code-deopt,')) continue;
    const f = line.split(',');
    if (f.length < 9) continue;
    out.push({ atS: Number(f[1]) / 1e6, kind: f[6]!, fn: f[7]!, reason: f.slice(8).join(',') });
  }
  return out;
}

/** Deoptimisations from `fromS` on, counted per whole second and reason, in time order. */
export function deoptBursts(deopts: readonly Deopt[], fromS: number): { second: number; reason: string; count: number }[] {
  const counts = new Map<string, { second: number; reason: string; count: number }>();
  for (const d of deopts) {
    if (d.atS < fromS) continue;
    const second = Math.floor(d.atS);
    const key = `${second} ${d.reason}`;
    const c = counts.get(key) ?? { second, reason: d.reason, count: 0 };
    c.count++;
    counts.set(key, c);
  }
  return [...counts.values()].sort((a, b) => a.second - b.second || b.count - a.count);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string', default: 'default' },
      flags: { type: 'string', default: '' },
      cycles: { type: 'string', default: '6' },
      idle: { type: 'string', default: '15' },
      burst: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '15' },
      connections: { type: 'string', default: '16' },
    },
  });
  const pin = planPinning();
  if (pin) applyPinning(pin);
  const dir = mkdtempSync(join(tmpdir(), 'idle-deopt-'));
  const bodies = join(dir, 'bodies.json');
  writeBodies(bodies, 1, 64);
  const log = join(dir, 'v8.log');
  const extra = values.flags ? values.flags.split(/\s+/) : [];
  const script = values.config === 'baseline' ? baselineArgs() : serviceArgs();
  // Extra flags after npm start's own (V8 takes the last of two), before the script, its last argument.
  const at = script.length - 1;
  const argv = ['--log-deopt', `--logfile=${log}`, '--no-logfile-per-isolate', ...script.slice(0, at), ...extra, ...script.slice(at)];
  const server = await startServer({ argv, env: {} });
  // The benchmark's own scraper (both /metrics ports and /health, once a second); the baseline has no /metrics.
  const scraper = values.config === 'baseline' ? undefined : startScraper(server, 1000);
  const load = (durationS: number) => runLoad({ url: `${server.url}/predict`, connections: Number(values.connections), durationS, bodiesFile: bodies, rowsPerRequest: 1 });
  const started = performance.now();
  const elapsed = () => ((performance.now() - started) / 1000).toFixed(0);
  const settledS = Number(values.warmup);
  try {
    await load(settledS);
    for (let c = 1; c <= Number(values.cycles); c++) {
      await sleep(Number(values.idle) * 1000);
      const r = await load(Number(values.burst));
      process.stdout.write(`burst ${c} (${elapsed()} s after the first load began): ${Math.round(r.rps)} req/s, p99 ${r.latencyMs.p99.toFixed(2)} ms\n`);
    }
  } finally {
    await scraper?.stop();
    // V8 writes the rest of its log as the process exits.
    await server.stop();
  }
  // The log's clock starts with the process, a second or two before the first load.
  const bursts = deoptBursts(parseDeopts(readFileSync(log, 'utf8')), settledS);
  process.stdout.write(`deoptimisations after the first ${settledS} s of the process (second: count reason):\n`);
  for (const b of bursts) process.stdout.write(`  ${String(b.second).padStart(4)} s: ${String(b.count).padStart(4)} ${b.reason}\n`);
  process.stdout.write(`  total ${bursts.reduce((n, b) => n + b.count, 0)}; largest in one second ${Math.max(0, ...bursts.map((b) => b.count))}\n`);
  // With --flags=--trace-memory-reducer: when the reducer's GCs came (the server's last 20 KB of output).
  const reducer = server.output().split('\n').filter((l) => /Memory reducer: (started|finished)/.test(l));
  if (reducer.length) process.stdout.write(`memory reducer:\n${reducer.map((l) => `  ${l.trim()}`).join('\n')}\n`);
}

if (import.meta.main) await main();
