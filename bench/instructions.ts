/**
 * Counts the machine instructions a single-row request executes, per configuration: each server
 * runs under valgrind's callgrind, is warmed up, has its counters zeroed, serves a measured load
 * and has them dumped; instructions divided by requests served. A diagnostic beside
 * `npm run bench`, for the question that benchmark cannot settle on this VM: is an overhead
 * work the process does, or the same work done more slowly?
 *
 *   node bench/instructions.ts                                   # baseline, sdk-disabled, default
 *   node bench/instructions.ts --configs baseline,baseline+sdk --measure 40
 *   node bench/instructions.ts --functions 40     # and where: instructions per function, and the
 *                                                 # differences from the baseline's
 *
 * Why instructions: they do not depend on the machine's speed of the moment (two baseline
 * processes measure within 0.2 % of each other), where CPU time per request moves by several
 * per cent between identical processes and from minute to minute. What they leave out is what
 * makes an instruction slow (cache and TLB misses, branch mispredictions): callgrind runs the
 * program on a simulated CPU, 50-100 times slower, and counts without timing.
 *
 * With `--functions`, V8 writes a perf map of its compiled code (`--perf-basic-prof`, in /tmp) and
 * callgrind counts per instruction address, so each count can be given to the JavaScript
 * function (`JS:*` optimised by TurboFan, `JS:+` by Maglev, `JS:^` Sparkplug, `JS:~` interpreted),
 * V8 builtin or native function it ran in. Inlined functions count as their caller.
 *
 * Needs `valgrind` (with `callgrind_control`) on PATH; not run by the tests (its parsers are).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { baselineArgs, baselineWithSdkArgs, freePort, ROOT, runLoad, serviceArgs, spawnTracked, tracesEnv, writeBodies } from './lib.ts';
import { exitOf, isolatedEnv, stopChild, waitHttp } from '../scripts/lib/proc.ts';
import { startOtlpSink, type OtlpSink } from './otlp-sink.ts';

let sink: OtlpSink | undefined;

/** The configurations this tool knows, as node arguments and environment. */
const CONFIGS: Record<string, () => { argv: string[]; env: Record<string, string> }> = {
  baseline: () => ({ argv: baselineArgs(), env: {} }),
  'baseline+sdk': () => ({ argv: baselineWithSdkArgs(), env: {} }),
  'sdk-disabled': () => ({ argv: serviceArgs(), env: { OTEL_SDK_DISABLED: 'true' } }),
  default: () => ({ argv: serviceArgs(), env: {} }),
  'no-quality': () => ({ argv: serviceArgs(), env: { MODEL_QUALITY_METRICS: 'false' } }),
  // As in `npm run bench`: a span per request over OTLP/HTTP protobuf to a sink in this process.
  traces: () => ({ argv: serviceArgs(), env: tracesEnv(sink!.url) }),
};

/** One thread's part of a callgrind dump. */
export interface CallgrindPart {
  /** What made callgrind write the dump (`dump measured`, `Program termination`). */
  trigger: string;
  /** 1 is the main thread; 0 when threads were not separated. */
  thread: number;
  /** Instructions executed (Ir). */
  instructions: number;
}

/** Reads the trigger, thread and instruction total of one callgrind output file. */
export function parseCallgrindPart(text: string): CallgrindPart {
  const trigger = /^desc: Trigger: (.*)$/m.exec(text)?.[1]?.trim() ?? '';
  const thread = Number(/^thread: (\d+)$/m.exec(text)?.[1] ?? 0);
  const totals = /^totals: (\d+)/m.exec(text) ?? /^summary: (\d+)/m.exec(text);
  if (!totals) throw new Error('no totals in callgrind output');
  return { trigger, thread, instructions: Number(totals[1]) };
}

/** A configuration's instructions per request, on the main thread and on all the others. */
export interface InstructionCount {
  config: string;
  requests: number;
  mainPerRequest: number;
  otherPerRequest: number;
}

/** Sums the parts of one dump into per-request counts. */
export function perRequest(config: string, parts: CallgrindPart[], requests: number): InstructionCount {
  const main = parts.filter((p) => p.thread <= 1).reduce((s, p) => s + p.instructions, 0);
  const other = parts.filter((p) => p.thread > 1).reduce((s, p) => s + p.instructions, 0);
  return { config, requests, mainPerRequest: main / requests, otherPerRequest: other / requests };
}

/** One code object of a V8 perf map (`/tmp/perf-<pid>.map`: `start size name` per line). */
interface MapEntry {
  start: number;
  end: number;
  name: string;
}

/** Reads a V8 perf map, sorted by address. */
export function parsePerfMap(text: string): MapEntry[] {
  const entries: MapEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/i.exec(line);
    if (!m) continue;
    const start = parseInt(m[1]!, 16);
    entries.push({ start, end: start + parseInt(m[2]!, 16), name: m[3]! });
  }
  return entries.sort((a, b) => a.start - b.start);
}

function lookup(map: MapEntry[], addr: number): string | undefined {
  let lo = 0;
  let hi = map.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (map[mid]!.start <= addr) lo = mid + 1;
    else hi = mid - 1;
  }
  const e = map[hi];
  return e && addr < e.end ? e.name : undefined;
}

/**
 * Instructions per function in a callgrind dump written with `--dump-instr=yes
 * --compress-pos=no --compress-strings=no`. A function callgrind has no symbol for (its name is
 * an address, or `???`) is V8's generated code: each instruction's count goes to the code object
 * the perf map places it in, or to `[unknown]`. Call lines carry a callee's inclusive cost and
 * are skipped, so each instruction counts once, where it ran.
 */
export function attribute(callgrind: string, perfMap: MapEntry[]): Map<string, number> {
  const out = new Map<string, number>();
  const add = (name: string, n: number) => out.set(name, (out.get(name) ?? 0) + n);
  let native: string | undefined;
  let callLine = false;
  for (const line of callgrind.split('\n')) {
    if (line.startsWith('fn=')) {
      const fn = line.slice(3).trim();
      // Callgrind names code outside any object file by its address (`0x…`, `0x…'2` for a later
      // function at the same address).
      native = /^0x[0-9a-f]+('\d+)?$/i.test(fn) || fn.includes('???') ? undefined : fn;
      continue;
    }
    if (line.startsWith('calls=')) {
      callLine = true;
      continue;
    }
    if (!line.startsWith('0x')) continue;
    if (callLine) {
      callLine = false;
      continue;
    }
    const fields = line.split(' ');
    const n = Number(fields[fields.length - 1]);
    add(native ?? lookup(perfMap, parseInt(fields[0]!, 16)) ?? '[unknown]', n);
  }
  return out;
}

/** The `top` entries of `counts` (per request), largest first. */
function topOf(counts: Map<string, number>, requests: number, top: number): [string, number][] {
  return [...counts].map(([k, v]): [string, number] => [k, v / requests]).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, top);
}

const MARK = 'measured';

async function measure(
  name: string,
  opts: { dir: string; bodies: string; warmupS: number; measureS: number; connections: number; driftRate: number; functions: boolean },
): Promise<InstructionCount & { byFunction?: Map<string, number> }> {
  const { argv, env: configEnv } = CONFIGS[name]!();
  const port = await freePort();
  const user = userInfo().username;
  // callgrind_control finds the process through vgdb, whose files are named after USER and HOST:
  // the server and the control calls must see the same values.
  const env = {
    ...isolatedEnv(port, await freePort()),
    USER: user,
    LOGNAME: user,
    LOG_LEVEL: 'warn',
    // At callgrind's pace (a few hundred requests/s) the drift sample's token bucket would take
    // every row; at the service's real pace it takes about one in fifteen.
    MODEL_DRIFT_MAX_ROWS_PER_SECOND: String(opts.driftRate),
    ...configEnv,
  };
  const out = join(opts.dir, `${name}.%p.out`);
  const vg = ['--tool=callgrind', '--separate-threads=yes', '--smc-check=all-non-file', `--callgrind-out-file=${out}`];
  vg.push(...(opts.functions ? ['--dump-instr=yes', '--compress-pos=no', '--compress-strings=no'] : ['--dump-instr=no']));
  // The perf map goes to /tmp/perf-<pid>.map; V8's log, which the flag also opens, to the output directory.
  const perf = ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${join(opts.dir, `v8-${name}.log`)}`];
  const node = [...(opts.functions ? perf : []), ...argv];
  // Tracked like every benchmark child: killed if this tool is interrupted.
  const proc = spawnTracked(node, { env, launcher: ['valgrind', ...vg] });
  let log = '';
  proc.stdout!.resume();
  proc.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const exited = exitOf(proc);
  const control = (...args: string[]) => {
    const r = spawnSync('callgrind_control', [...args, String(proc.pid)], { env, encoding: 'utf8' });
    if (r.status !== 0 || !/OK/.test(r.stdout)) throw new Error(`callgrind_control ${args.join(' ')} failed: ${r.stdout}${r.stderr}`);
  };
  try {
    await waitHttp(`http://127.0.0.1:${port}/ready`, 300_000, { name, proc });
    const load = (durationS: number) =>
      runLoad({ url: `http://127.0.0.1:${port}/predict`, connections: opts.connections, durationS, bodiesFile: opts.bodies, rowsPerRequest: 1 });
    await load(opts.warmupS);
    control('-z');
    const measured = await load(opts.measureS);
    control('-d', MARK);
    const prefix = `${name}.${proc.pid}.out.`;
    const dumps = readdirSync(opts.dir)
      .filter((f) => f.startsWith(prefix))
      .map((f) => readFileSync(join(opts.dir, f), 'utf8'))
      .map((text) => ({ text, part: parseCallgrindPart(text) }))
      .filter((d) => d.part.trigger === `dump ${MARK}`);
    if (dumps.length === 0) throw new Error(`no dump of ${name} in ${opts.dir}`);
    const count = perRequest(name, dumps.map((d) => d.part), measured.requests);
    if (!opts.functions) return count;
    // The main thread's dump: the request path's own code.
    const main = dumps.find((d) => d.part.thread <= 1)!;
    const mapFile = `/tmp/perf-${proc.pid}.map`;
    const byFunction = attribute(main.text, parsePerfMap(readFileSync(mapFile, 'utf8')));
    rmSync(mapFile, { force: true });
    return { ...count, byFunction };
  } catch (err) {
    process.stderr.write(log);
    throw err;
  } finally {
    await stopChild(proc, exited, 'SIGTERM', 30_000);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      configs: { type: 'string', default: 'baseline,sdk-disabled,default' },
      warmup: { type: 'string', default: '90' },
      measure: { type: 'string', default: '45' },
      connections: { type: 'string', default: '8' },
      'drift-rate': { type: 'string', default: '15' },
      functions: { type: 'string', default: '0' },
      base: { type: 'string', default: 'baseline' },
      out: { type: 'string', default: join(ROOT, 'bench/results/instructions') },
    },
  });
  if (spawnSync('valgrind', ['--version']).status !== 0) throw new Error('valgrind is not on PATH (Debian: apt-get install valgrind)');
  const configs = values.configs.split(',');
  for (const c of configs) if (!CONFIGS[c]) throw new Error(`unknown config ${c}; known: ${Object.keys(CONFIGS).join(', ')}`);
  const dir = resolve(values.out);
  mkdirSync(dir, { recursive: true });
  const bodies = join(dir, 'bodies-1.json');
  writeBodies(bodies, 1, 64);
  const top = Number(values.functions);
  if (configs.includes('traces')) sink = await startOtlpSink();
  const results: (InstructionCount & { byFunction?: Map<string, number> })[] = [];
  for (const c of configs) {
    process.stderr.write(`${c}: warming up ${values.warmup} s, then ${values.measure} s measured (under callgrind)\n`);
    results.push(
      await measure(c, { dir, bodies, warmupS: Number(values.warmup), measureS: Number(values.measure), connections: Number(values.connections), driftRate: Number(values['drift-rate']), functions: top > 0 }),
    );
  }
  await sink?.close();
  const base = results.find((r) => r.config === values.base);
  const k = (n: number) => `${(n / 1000).toFixed(1)} k`;
  console.log(`| configuration | requests | main thread / req | other threads / req | main × ${values.base} |`);
  console.log('|---|--:|--:|--:|--:|');
  for (const r of results) {
    const ratio = base ? (r.mainPerRequest / base.mainPerRequest).toFixed(3) : '';
    console.log(`| ${r.config} | ${r.requests} | ${k(r.mainPerRequest)} | ${k(r.otherPerRequest)} | ${ratio} |`);
  }
  if (top === 0) return;
  for (const r of results) {
    console.log(`\n${r.config}: main-thread instructions per request, by function (top ${top})\n`);
    for (const [fn, n] of topOf(r.byFunction!, r.requests, top)) console.log(`${n.toFixed(0).padStart(8)}  ${fn}`);
    if (!base || r === base) continue;
    const diff = new Map<string, number>();
    for (const [fn, n] of r.byFunction!) diff.set(fn, n / r.requests);
    for (const [fn, n] of base.byFunction!) diff.set(fn, (diff.get(fn) ?? 0) - n / base.requests);
    console.log(`\n${r.config} minus ${values.base}, by function (the ${top} largest differences; inlining moves counts between functions)\n`);
    for (const [fn, n] of topOf(diff, 1, top)) console.log(`${(n >= 0 ? '+' : '') + n.toFixed(0).padStart(7)}  ${fn}`);
  }
}

if (import.meta.main) await main();
