/**
 * Builds the GC statistics addon (`telemetry/native/gc_stats.cc`, see `telemetry/gc.ts`) into
 * `telemetry/native/build/Release/gc_stats.node`. The package's `install` script, so `npm ci` and
 * `npm install` run it; `npm run build:native` runs it again (after switching Node.js, say).
 *
 * Nothing is downloaded: it runs the node-gyp that npm ships (npm passes its path in
 * `npm_config_node_gyp`) against the headers of the Node.js running this script, found beside
 * its binary (an official build or distribution package: `<prefix>/include/node`; the `node` npm
 * package this project installs: its platform package). It needs python3, make and a C++
 * compiler. When the build fails the install still succeeds, with a warning: the service then
 * records GC durations through Node's PerformanceObserver instead, as upstream does (and says so
 * at start-up). `--strict` makes a failed build an error.
 *
 * Usage: node scripts/build-native.ts [--strict]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const strict = process.argv.includes('--strict');
const addonDir = resolve(dirname(fileURLToPath(import.meta.url)), '../telemetry/native');

/** The folder holding `include/node` for the Node.js that runs this script, if any. */
export function nodeHeadersDir(execPath = process.execPath): string | undefined {
  const bin = dirname(realpathSync(execPath));
  const candidates = [resolve(bin, '..'), resolve(bin, '../node_modules', `node-${process.platform}-${process.arch}`)];
  return candidates.find((dir) => existsSync(join(dir, 'include/node/node.h')));
}

/** npm's own node-gyp: npm says where during its scripts; otherwise beside the npm on PATH. */
function nodeGyp(): string | undefined {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  const root = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' });
  const guess = root.status === 0 ? join(root.stdout.trim(), 'npm/node_modules/node-gyp/bin/node-gyp.js') : '';
  return guess && existsSync(guess) ? guess : undefined;
}

function fail(why: string): never {
  const line = `build-native: ${why}`;
  if (strict) {
    console.error(line);
    process.exit(1);
  }
  console.warn(`${line}\nbuild-native: the service will take GC durations from Node's PerformanceObserver (see telemetry/gc.ts); \`npm run build:native\` retries`);
  process.exit(0);
}

if (import.meta.main) {
  const headers = nodeHeadersDir();
  if (!headers) fail(`no Node.js headers (include/node/node.h) beside ${process.execPath}`);
  const gyp = nodeGyp();
  if (!gyp) fail('node-gyp not found (run it through npm: npm run build:native)');
  // The headers are passed in npm's variable too: a machine-wide `nodedir` in npm's config (these
  // machines point it at the system Node's headers) reaches node-gyp as npm_config_nodedir and
  // would win over the flag, building for another Node.js.
  const env = { ...process.env, npm_config_nodedir: headers };
  const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${headers}`, `--directory=${addonDir}`, '--loglevel=warn'], { stdio: 'inherit', env });
  if (r.status !== 0) fail(`node-gyp failed (exit ${r.status ?? r.signal}); python3, make and a C++ compiler are needed`);
  console.log(`build-native: built ${join(addonDir, 'build/Release/gc_stats.node')} for Node.js ${process.version}`);
}
