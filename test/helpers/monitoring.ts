/** Shared helpers of the monitoring tests: run a real tool, read repository files, find ports. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT, toolPath, type ToolName } from './tools.ts';

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a monitoring binary to completion from the repository root. */
export function runTool(name: ToolName, args: readonly string[], cwd = REPO_ROOT): RunResult {
  const r = spawnSync(toolPath(name), args, { cwd, encoding: 'utf8', timeout: 240_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A repository file's text. */
export function repoText(rel: string): string {
  return readFileSync(join(REPO_ROOT, rel), 'utf8');
}

/** A repository YAML file, parsed. */
export function repoYaml<T = any>(rel: string): T {
  return parse(repoText(rel)) as T;
}

export { freePort } from '../../scripts/lib/proc.ts';

/** Polls `url` until it answers 2xx, or throws after `timeoutMs`. */
export async function waitForOk(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms: ${last}`);
}
