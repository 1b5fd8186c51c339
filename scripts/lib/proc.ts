/** Process helpers shared by the stack, the benchmark and the tests. */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A start whose port, chosen with {@link freePort}, was taken by another socket before the process bound it. */
export class PortTakenError extends Error {}

/**
 * Runs `start` again while it throws {@link PortTakenError}, up to `attempts` runs in all.
 * `freePort` releases a port before the process binds it, and meanwhile another socket on the
 * machine (a client's ephemeral port, another test's server) can take it; `start` picks new
 * ports each time.
 */
export async function retryIfPortTaken<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (e) {
      if (attempt >= attempts || !(e instanceof PortTakenError)) throw e;
    }
  }
}

/**
 * Waits for a started service's `ready` and tells a port taken from any other failure. The
 * service exits on an EADDRINUSE on its API port (`ready` fails) and only logs one on its scrape
 * port (`ready` succeeds), so both are read from its `output`. On any failure the service is
 * stopped and the error carries its output.
 */
export async function awaitStart(ready: Promise<void>, output: () => string, stop: () => Promise<unknown>): Promise<void> {
  let failure: Error | undefined;
  try {
    await ready;
  } catch (e) {
    failure = e as Error;
  }
  const out = output();
  const taken = out.includes('EADDRINUSE');
  if (failure === undefined && !taken) return;
  await stop();
  const message = `${failure?.message ?? 'a port was taken before the service could bind it'}: ${out}`;
  throw taken ? new PortTakenError(message) : new Error(message);
}

/** The node arguments of `npm start`, read from package.json so no caller can drift from it. */
export function startArgs(): string[] {
  const script = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start as string;
  const [bin, ...args] = script.split(/\s+/);
  if (bin !== 'node') throw new Error(`npm start is expected to run node, not: ${script}`);
  return args;
}

/** The environment that puts the service on `port` and its scrape endpoint on `scrapePort`, both on loopback. */
export function loopbackEnv(port: number, scrapePort: number): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    PORT: String(port),
    OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(scrapePort),
  };
}

/**
 * A minimal environment for a service child (PATH and HOME only, none of this process's other
 * variables, so no stray OTEL_* leaks in), on loopback ports: callers add their own on top.
 */
export function isolatedEnv(port: number, scrapePort: number): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...loopbackEnv(port, scrapePort) };
}

/** A promise of a child's exit code. */
export function exitOf(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
}

/** Sends `signal`, then SIGKILL after `timeoutMs`; resolves with the exit code. */
export async function stopChild(proc: ChildProcess, exited: Promise<number | null>, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
  proc.kill(signal);
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

/** Polls `url` until it answers 200; throws if `proc` exits first or after `timeoutMs`. */
export async function waitHttp(url: string, timeoutMs = 30_000, proc?: { name: string; proc: ChildProcess }): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && proc.proc.exitCode !== null) throw new Error(`${proc.name} exited (${proc.proc.exitCode}) before ${url} was up`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not up within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The monitoring binaries the stack and the tests run. */
export type ToolName = 'prometheus' | 'promtool' | 'alertmanager' | 'amtool';

/** Absolute path of `name`, from .tools/bin or else PATH; throws when it is nowhere. */
export function toolPath(name: ToolName): string {
  const local = join(ROOT, '.tools', 'bin', name);
  if (existsSync(local)) return local;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} not found in ${join(ROOT, '.tools', 'bin')} or on PATH: run 'npm run setup' (scripts/setup-tools.sh)`);
}
