/**
 * Locates the real monitoring binaries (installed by scripts/setup-tools.sh into .tools/bin).
 * A missing binary throws: tests never skip because a tool is absent.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

export { toolPath, type ToolName } from '../../scripts/lib/proc.ts';
