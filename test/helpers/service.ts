/** Spawns the service exactly as `npm start` does, on free ports, for process-level tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { exitOf, freePort, isolatedEnv, startArgs as startCommand, stopChild, waitHttp } from '../../scripts/lib/proc.ts';
import { REPO_ROOT } from './tools.ts';

export { freePort, startArgs as startCommand } from '../../scripts/lib/proc.ts';

/** A running service process. */
export interface RunningService {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly scrapePort: number;
  readonly url: string;
  /** Everything the process wrote so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then wait for exit; SIGKILL after `ms`. */
  stop(ms?: number): Promise<number | null>;
}

/** Options for {@link startService}. */
export interface StartServiceOptions {
  env?: Record<string, string>;
  /** Wait until /ready answers 200 (default true). */
  waitReady?: boolean;
  timeoutMs?: number;
}

/**
 * Starts the service with `env` on top of a minimal environment. `freePort` releases a port
 * before the service binds it, and another socket can take it meanwhile: a service that reports
 * EADDRINUSE (it exits for the API port, and only logs it for the scrape port) is started again
 * on new ports, up to three times, as the benchmark's `startServer` does. Without `waitReady`
 * there is nothing to wait for, so nothing is retried.
 */
export async function startService(opts: StartServiceOptions = {}): Promise<RunningService> {
  for (let attempt = 1; ; attempt++) {
    const svc = await startOnce(opts);
    if (opts.waitReady === false) return svc.service;
    if (svc.failure === undefined && !svc.service.stdout().includes('EADDRINUSE') && !svc.service.stderr().includes('EADDRINUSE')) return svc.service;
    await svc.service.stop();
    const output = svc.service.stderr() + svc.service.stdout();
    if (attempt < 3 && output.includes('EADDRINUSE')) continue;
    throw new Error(`${svc.failure?.message ?? 'a port was taken before the service could bind it'}: ${output}`);
  }
}

async function startOnce(opts: StartServiceOptions): Promise<{ service: RunningService; failure?: Error }> {
  const port = await freePort();
  const scrapePort = await freePort();
  const env: Record<string, string> = { ...isolatedEnv(port, scrapePort), ...opts.env };
  const proc = spawn(process.execPath, startCommand(), { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = exitOf(proc);
  const url = `http://127.0.0.1:${port}`;
  const service: RunningService = {
    proc,
    port,
    scrapePort,
    url,
    stdout: () => out,
    stderr: () => err,
    exited,
    stop: (ms = 15_000) => stopChild(proc, exited, 'SIGTERM', ms),
  };
  if (opts.waitReady === false) return { service };
  try {
    await waitHttp(`${url}/ready`, opts.timeoutMs ?? 20_000, { name: 'service', proc });
    return { service };
  } catch (e) {
    return { service, failure: e as Error };
  }
}
