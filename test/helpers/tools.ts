/**
 * Locates the real monitoring binaries (installed by scripts/setup-tools.sh into .tools/bin).
 * A missing binary throws: tests never skip because a tool is absent.
 */
import { existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

/** The binaries the tests run. */
export type ToolName = 'prometheus' | 'promtool' | 'alertmanager' | 'amtool';

/** Absolute path of `name`, from .tools/bin or else PATH; throws when it is nowhere. */
export function toolPath(name: ToolName): string {
  const local = join(REPO_ROOT, '.tools', 'bin', name);
  if (existsSync(local)) return local;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} not found in ${join(REPO_ROOT, '.tools', 'bin')} or on PATH: run 'npm run setup:tools' (scripts/setup-tools.sh)`);
}
