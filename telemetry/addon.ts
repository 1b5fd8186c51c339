/**
 * Loads one of the project's native addons (built by `npm ci`, scripts/build-native.ts), once per
 * process and file: the GC statistics (telemetry/gc.ts) and the prediction body reader
 * (src/model/native-rows.ts). A missing or unloadable addon is not an error here: callers fall
 * back to JavaScript and say why.
 */
import { createRequire } from 'node:module';

/** An addon, or why it could not be used. */
export type AddonResult<T> = { addon: T } | { error: string };

const loaded = new Map<string, AddonResult<unknown>>();
const require = createRequire(import.meta.url);

/**
 * The addon at `file`, or the first line of why it could not be loaded; `check` may refuse a
 * loaded one (returning the reason). The result is kept: the same file is loaded once.
 */
export function loadAddon<T>(file: URL, check?: (addon: T) => string | undefined): AddonResult<T> {
  let result = loaded.get(file.href) as AddonResult<T> | undefined;
  if (!result) {
    try {
      const addon = require(file.pathname) as T;
      const refused = check?.(addon);
      result = refused === undefined ? { addon } : { error: refused };
    } catch (err) {
      result = { error: (err as Error).message.split('\n')[0]! };
    }
    loaded.set(file.href, result);
  }
  return result;
}
