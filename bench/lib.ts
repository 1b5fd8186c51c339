/**
 * Process plumbing for the benchmark: starting servers on free loopback ports, waiting for
 * /ready, running the load generator as a separate process, reading a process's CPU time and
 * memory from /proc, and killing every child if the benchmark is interrupted.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Agent, get as httpGet } from 'node:http';
import { fileURLToPath } from 'node:url';
import { MEASURING, type LoadOptions, type LoadResult } from './load.ts';
import type { ScrapeSample } from './report.ts';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every child still running, killed if the benchmark exits early. */
const children = new Set<ChildProcess>();
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping children\n`);
      killAll();
      process.exit(130);
    });
  }
}

/**
 * CPU pinning. On a small machine the server, the load generator and this orchestrator compete
 * for the same cores, and the scheduler moving them around is the largest source of noise
 * between rounds. With pinning on, the server under test gets the last core to itself (Node
 * serves on one thread; its helper threads share that core, as they would share its quota in a
 * container) and everything else (this process, autocannon, the scraper, the OTLP sink) runs
 * on the other cores.
 */
export interface Pinning {
  /** The server's core list, for `taskset -c`. */
  server: string;
  /** Everyone else's. */
  others: string;
}

/** The pinning for this machine, or undefined when it cannot be done (one core, or no taskset). */
export function planPinning(): Pinning | undefined {
  const n = availableParallelism();
  if (n < 2 || process.platform !== 'linux') return undefined;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return { server: String(n - 1), others: n === 2 ? '0' : `0-${n - 2}` };
}

let serverCpus: string | undefined;

/**
 * Applies `pin`: this process (and so every child it starts later) moves to `others`, and
 * servers started from now on run on `server`.
 */
export function applyPinning(pin: Pinning): void {
  execFileSync('taskset', ['-a', '-p', '-c', pin.others, String(process.pid)], { stdio: 'ignore' });
  serverCpus = pin.server;
}

/**
 * Spawns node with `args` as a child that is tracked for cleanup. `cpus` runs it under
 * `taskset -c`; `launcher` under another command that runs node in the same process (valgrind).
 */
export function spawnTracked(args: string[], opts: { env: Record<string, string>; cwd?: string; cpus?: string; launcher?: string[] }): ChildProcess {
  installExitHandlers();
  const [cmd = process.execPath, ...before] = [...(opts.cpus ? ['taskset', '-c', opts.cpus] : []), ...(opts.launcher ?? [])];
  const argv = cmd === process.execPath ? args : [...before, process.execPath, ...args];
  // taskset and valgrind run node in place, so the pid is the server's own.
  const proc = spawn(cmd, argv, { cwd: opts.cwd ?? ROOT, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}

import { awaitStart, exitOf, freePort, isolatedEnv, retryIfPortTaken, startArgs as serviceArgs, stopChild, waitHttp } from '../scripts/lib/proc.ts';

export { freePort, serviceArgs };

/** The traces configuration's environment: a span per request over OTLP/HTTP protobuf to the sink at `sinkUrl`. */
export function tracesEnv(sinkUrl: string): Record<string, string> {
  return { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' };
}

/**
 * The node flags of `npm start` without its telemetry preload (`--import …`) and its script: V8's
 * heap and GC settings are the runtime's configuration, not telemetry, so every server the
 * benchmark compares runs with them.
 */
export function runtimeFlags(args: readonly string[] = serviceArgs()): string[] {
  const flags: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) break; // the script: what follows is its own arguments
    if (a === '--import') i++;
    else if (!a.startsWith('--import=')) flags.push(a);
  }
  return flags;
}

/** The node arguments of the baseline server: {@link runtimeFlags}, then its script. */
export function baselineArgs(): string[] {
  return [...runtimeFlags(), 'bench/baseline-server.ts'];
}

/**
 * The baseline server under the telemetry preload (`--import ./telemetry/register.ts`): the SDK
 * runs as in the service (readers, runtime and process metrics, the scrape port) while the app
 * records nothing, so it measures what the running SDK costs a process apart from the requests'
 * own recording. A diagnostic configuration (`bench/shared-core.ts`, `bench/profile.ts`).
 */
export function baselineWithSdkArgs(): string[] {
  return ['--import', './telemetry/register.ts', ...baselineArgs()];
}

/**
 * One GET over a kept-alive connection, timed from the request to the last byte. node:http rather
 * than fetch: undici's fetch adds about half a millisecond of client-side work per call, which
 * is not the server's (Prometheus's own scraper is a lean Go client). Also reads the server's
 * own render time from its `Server-Timing: render;dur=<ms>` header.
 */
function timedGet(url: string, agent: Agent, timeoutMs: number): Promise<Omit<ScrapeSample, 'port'>> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const failed = () => resolve({ ms: performance.now() - t0, serverMs: null, bytes: 0, status: 0 });
    const req = httpGet(url, { agent, timeout: timeoutMs }, (res) => {
      let bytes = 0;
      const timing = /render;dur=([\d.]+)/.exec(String(res.headers['server-timing'] ?? ''));
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ ms: performance.now() - t0, serverMs: timing ? Number(timing[1]) : null, bytes, status: res.statusCode ?? 0 }));
      res.on('error', failed);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', failed);
  });
}

/**
 * Scrapes both /metrics ports every `intervalMs` until stopped, as Prometheus would, and fetches
 * `/health` on the same connection right after: a control that shows the machine's own latency
 * for a request that does no work. Keeps the timings.
 */
export function startScraper(server: RunningServer, intervalMs: number): { stop: () => Promise<ScrapeSample[]> } {
  const samples: ScrapeSample[] = [];
  const targets = [
    ['api', `${server.url}/metrics`],
    ['scrape', `http://127.0.0.1:${server.scrapePort}/metrics`],
    ['health', `${server.url}/health`],
  ] as const;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let inFlight: Promise<void> | undefined;
  const tick = () => {
    if (inFlight) return;
    inFlight = (async () => {
      for (const [port, url] of targets) samples.push({ port, ...(await timedGet(url, agent, 5000)) });
    })().finally(() => (inFlight = undefined));
  };
  const timer = setInterval(tick, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      agent.destroy();
      return samples;
    },
  };
}

/** A server under test. */
export interface ServerSpec {
  /** Node arguments (script and flags). */
  argv: string[];
  env: Record<string, string>;
}

/** A running server. */
export interface RunningServer {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly scrapePort: number;
  readonly url: string;
  output(): string;
  /** SIGTERM, SIGKILL after `ms`; resolves with the exit code. */
  stop(ms?: number): Promise<number | null>;
}

/**
 * Starts a server on free loopback ports and waits until /ready answers 200; a start whose port
 * was taken before the server bound it is made again on new ports (`retryIfPortTaken`).
 */
export async function startServer(spec: ServerSpec, timeoutMs = 30_000, cwd?: string): Promise<RunningServer> {
  return retryIfPortTaken(() => startOnce(spec, timeoutMs, cwd));
}

async function startOnce(spec: ServerSpec, timeoutMs: number, cwd: string | undefined): Promise<RunningServer> {
  const port = await freePort();
  const scrapePort = await freePort();
  const env: Record<string, string> = { ...isolatedEnv(port, scrapePort), LOG_LEVEL: 'warn', ...spec.env };
  const proc = spawnTracked(spec.argv, { env, ...(cwd ? { cwd } : {}), ...(serverCpus ? { cpus: serverCpus } : {}) });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  proc.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const exited = exitOf(proc);
  const url = `http://127.0.0.1:${port}`;
  const server: RunningServer = {
    proc,
    pid: proc.pid!,
    port,
    scrapePort,
    url,
    output: () => out,
    stop: (ms = 15_000) => stopChild(proc, exited, 'SIGTERM', ms),
  };
  await awaitStart(waitHttp(`${url}/ready`, timeoutMs, { name: `server ${spec.argv.join(' ')}`, proc }), () => out, () => server.stop());
  return server;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `bench/load.ts` in its own process and returns its result. `onMeasuring` is called when
 * the measured load starts (after `opts.warmupS` of unmeasured load, if any).
 */
export async function runLoad(opts: LoadOptions, onMeasuring?: () => void): Promise<LoadResult> {
  const proc = spawnTracked([join(ROOT, 'bench/load.ts'), JSON.stringify(opts)], { env: { PATH: process.env.PATH ?? '' } });
  let out = '';
  let err = '';
  let signalled = false;
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (!signalled && out.includes(`${MEASURING}\n`)) {
      signalled = true;
      onMeasuring?.();
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), (opts.durationS + (opts.warmupS ?? 0) + 30) * 1000);
  const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  clearTimeout(timer);
  const line = out.trim().split('\n').pop();
  if (code !== 0 || !line || line === MEASURING) throw new Error(`load generator failed (exit ${code}): ${err || out}`);
  return JSON.parse(line) as LoadResult;
}

/**
 * Runs `runLoad(opts)` against the server `pid` and returns its result with the server's CPU time
 * per request (user + system, µs) over the measured part of the load: read when the load
 * generator says the measured load starts (after `opts.warmupS`) and when it has ended.
 */
export async function runMeasuredLoad(pid: number, opts: LoadOptions): Promise<{ load: LoadResult; cpuUsPerRequest: number }> {
  let before = NaN;
  const load = await runLoad(opts, () => (before = readProc(pid)?.cpuS ?? NaN));
  return { load, cpuUsPerRequest: (((readProc(pid)?.cpuS ?? NaN) - before) * 1e6) / load.requests };
}

/** Clock ticks per second, for /proc/PID/stat CPU times. */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** A process's CPU time and memory, from /proc (Linux). */
export interface ProcSample {
  /** user + system CPU seconds so far. */
  cpuS: number;
  rssKB: number;
  /** Peak RSS of the process's life (VmHWM). */
  hwmKB: number;
}

/** Reads /proc/PID; undefined when it is not available (not Linux, or the process is gone). */
export function readProc(pid: number): ProcSample | undefined {
  const base = `/proc/${pid}`;
  if (!existsSync(base)) return undefined;
  try {
    const stat = readFileSync(`${base}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at state (field 3).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`${base}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { cpuS: (utime + stime) / CLK_TCK, rssKB: kb('VmRSS'), hwmKB: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/**
 * Busy CPU seconds of the whole machine so far (all cores: user, nice, system, irq, softirq,
 * steal), from /proc/stat; undefined when not available.
 */
export function systemBusyS(): number | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
    return (user + nice + system + irq + softirq + steal) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** One row of the bundled data set, in the card's feature order. */
export function readRows(): number[][] {
  const lines = readFileSync(join(ROOT, 'data/breast-cancer-wisconsin.csv'), 'utf8').trim().split('\n');
  return lines.slice(1).map((l) => l.split(',').slice(0, 30).map(Number));
}

/** The model's feature names, from its card. */
export function featureNames(): string[] {
  const card = JSON.parse(readFileSync(join(ROOT, 'models/breast-cancer-v1.0.0.card.json'), 'utf8')) as {
    input: { features: string[] };
  };
  return card.input.features;
}

/**
 * Writes `variants` request bodies of `rows` rows each to `file` (a JSON array of strings).
 * Rows use named features, the form most clients send; consecutive bodies use different rows.
 */
export function writeBodies(file: string, rows: number, variants: number): void {
  const names = featureNames();
  const data = readRows();
  const named = (r: number[]) => Object.fromEntries(names.map((n, j) => [n, r[j]]));
  const bodies: string[] = [];
  let next = 0;
  for (let v = 0; v < variants; v++) {
    const pick = () => data[next++ % data.length]!;
    bodies.push(
      rows === 1 ? JSON.stringify({ features: named(pick()) }) : JSON.stringify({ instances: Array.from({ length: rows }, () => ({ features: named(pick()) })) }),
    );
  }
  writeFileSync(file, JSON.stringify(bodies));
}

/** Environment facts for the report. */
export function environment(): Record<string, string | number> {
  let cpu = 'unknown';
  try {
    cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {
    // not Linux
  }
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu,
    // The machine's cores, not this process's share (after pinning, availableParallelism() is 1).
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadavg1mAtEnd: Number(loadavg()[0]!.toFixed(2)),
    date: new Date().toISOString(),
  };
}
