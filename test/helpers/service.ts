/** Spawns the service exactly as `npm start` does, on free ports, for process-level tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { awaitStart, exitOf, freePort, isolatedEnv, retryIfPortTaken, startArgs as startCommand, stopChild, waitHttp } from '../../scripts/lib/proc.ts';
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
 * Starts the service with `env` on top of a minimal environment. Waiting until ready (the
 * default), a start whose port was taken before the service bound it is made again on new ports
 * (`retryIfPortTaken`); without waiting there is nothing to tell, so nothing is retried.
 */
export async function startService(opts: StartServiceOptions = {}): Promise<RunningService> {
  return retryIfPortTaken(() => startOnce(opts));
}

async function startOnce(opts: StartServiceOptions): Promise<RunningService> {
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
  const svc: RunningService = {
    proc,
    port,
    scrapePort,
    url,
    stdout: () => out,
    stderr: () => err,
    exited,
    stop: (ms = 15_000) => stopChild(proc, exited, 'SIGTERM', ms),
  };
  if (opts.waitReady !== false) {
    await awaitStart(waitHttp(`${url}/ready`, opts.timeoutMs ?? 20_000, { name: 'service', proc }), () => err + out, () => svc.stop());
  }
  return svc;
}
