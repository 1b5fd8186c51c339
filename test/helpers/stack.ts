/** Shared pieces of the live-stack tests: a fast-profile stack on free ports, load, timings. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad, type LoadOptions, type LoadSummary } from '../../scripts/lib/loadgen.ts';
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
 * Starts Alertmanager, Prometheus and the API (fast profile) on free ports. `freePort` releases a
 * port before the process binds it, and another socket can take it meanwhile: a start that
 * failed because a port was in use (the processes' logs say so) is tried again on new ports, up
 * to three times, as the benchmark's `startServer` does.
 */
export async function startDrillStack(apiEnv: Record<string, string> = {}): Promise<DrillStack> {
  const hook = await startWebhookReceiver();
  for (let attempt = 1; ; attempt++) {
    const ports = { api: await freePort(), scrape: await freePort(), prometheus: await freePort(), alertmanager: await freePort() };
    const dataDir = mkdtempSync(join(tmpdir(), 'stack-'));
    let stack: Stack;
    try {
      stack = await startStack({
        dataDir,
        ports,
        profile: 'fast',
        webhookUrl: hook.url,
        apiEnv: { LOG_LEVEL: 'warn', FAULT_INJECTION_ENABLED: 'true', ...apiEnv },
      });
    } catch (err) {
      if (attempt < 3 && portWasTaken(join(dataDir, 'logs'))) continue;
      await hook.close();
      throw err;
    }
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
