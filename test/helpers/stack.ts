/** Shared pieces of the live-stack tests: a fast-profile stack on free ports, load, timings. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad, type LoadOptions, type LoadSummary } from '../../scripts/lib/loadgen.ts';
import { PortTakenError, retryIfPortTaken } from '../../scripts/lib/proc.ts';
import { startStack, type Stack } from '../../scripts/lib/stack.ts';
import { freePort } from './service.ts';
import { REPO_ROOT } from './tools.ts';
import { startWebhookReceiver, type WebhookReceiver } from './webhook.ts';

/** A started fast stack and its webhook receiver. */
export interface DrillStack {
  stack: Stack;
  hook: WebhookReceiver;
  api: string;
  prom: string;
  close(): Promise<void>;
}

/**
 * Starts Alertmanager, Prometheus and the API (fast profile) on free ports. A start that failed
 * because a port was in use (a process's log says so) is made again on new ports
 * (`retryIfPortTaken`).
 */
export async function startDrillStack(apiEnv: Record<string, string> = {}): Promise<DrillStack> {
  const hook = await startWebhookReceiver();
  try {
    return await retryIfPortTaken(async () => {
      const ports = { api: await freePort(), scrape: await freePort(), prometheus: await freePort(), alertmanager: await freePort() };
      const dataDir = mkdtempSync(join(tmpdir(), 'stack-'));
      const stack = await startStack({
        dataDir,
        ports,
        profile: 'fast',
        webhookUrl: hook.url,
        apiEnv: { LOG_LEVEL: 'warn', FAULT_INJECTION_ENABLED: 'true', ...apiEnv },
      }).catch((err: Error) => {
        throw portWasTaken(join(dataDir, 'logs')) ? new PortTakenError(`a port was taken before the stack could bind it: ${err.message}`) : err;
      });
      return {
        stack,
        hook,
        api: `http://127.0.0.1:${ports.api}`,
        prom: `http://127.0.0.1:${ports.prometheus}`,
        async close() {
          await stack.stop();
          await hook.close();
        },
      };
    });
  } catch (err) {
    await hook.close();
    throw err;
  }
}

/** Whether a process of a failed stack start logged that its port was in use. */
export function portWasTaken(logDir: string): boolean {
  if (!existsSync(logDir)) return false;
  return readdirSync(logDir).some((f) => /EADDRINUSE|address already in use/.test(readFileSync(join(logDir, f), 'utf8')));
}

/** Runs load in the background until `stop()`. */
export function backgroundLoad(opts: Omit<LoadOptions, 'signal' | 'durationS'> & { durationS?: number }) {
  const controller = new AbortController();
  const done: Promise<LoadSummary> = runLoad({ durationS: 3600, dataPath: join(REPO_ROOT, 'data/breast-cancer-wisconsin.csv'), ...opts, signal: controller.signal });
  return {
    done,
    async stop(): Promise<LoadSummary> {
      controller.abort();
      return done;
    },
  };
}

/** Sets the API's injected faults. */
export async function setFaults(api: string, faults: Record<string, number>): Promise<void> {
  const res = await fetch(`${api}/admin/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(faults) });
  if (res.status !== 200) throw new Error(`setting faults failed: ${res.status} ${await res.text()}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Drill timings, collected across test files into .data/drill-timings.json for the report. */
export function recordTiming(drill: string, timing: Record<string, number>): void {
  const dir = join(REPO_ROOT, '.data');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'drill-timings.json');
  const all = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  all[drill] = timing;
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
  console.log(`drill ${drill}: ${JSON.stringify(timing)}`);
}
