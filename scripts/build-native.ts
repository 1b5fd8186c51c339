/**
 * Builds the project's two native addons: the GC statistics addon (`telemetry/native/gc_stats.cc`,
 * see `telemetry/gc.ts`) and the prediction body reader (`src/model/native/row_parser.cc`, see
 * `src/model/native-rows.ts`), each into its folder's `build/Release/`. The package's `install`
 * script, so `npm ci` and `npm install` run it; `npm run build:native` runs it again (after
 * switching Node.js, say).
 *
 * Nothing is downloaded: it runs the node-gyp that npm ships (npm passes its path in
 * `npm_config_node_gyp`) against the headers of the Node.js running this script, found beside
 * its binary (an official build or distribution package: `<prefix>/include/node`; the `node` npm
 * package this project installs: its platform package). It needs python3, make and a C++
 * compiler. When a build fails the install still succeeds, with a warning: the service then
 * records GC durations through Node's PerformanceObserver instead, as upstream does, and reads
 * every body with JSON.parse (and says both at start-up). `--strict` makes a failed build an error.
 *
 * Usage: node scripts/build-native.ts [--strict]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const strict = process.argv.includes('--strict');
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Each addon's folder (its binding.gyp), its output, and what the service does without it. */
const ADDONS = [
  { dir: join(root, 'telemetry/native'), file: 'gc_stats.node', without: "the service will take GC durations from Node's PerformanceObserver (see telemetry/gc.ts)" },
  { dir: join(root, 'src/model/native'), file: 'row_parser.node', without: 'the service will read every prediction body with JSON.parse (see src/model/native-rows.ts)' },
];

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

/** A failed build: an error with --strict, otherwise a warning that says what the service does instead. */
function fail(why: string, without = ADDONS.map((a) => a.without).join('; ')): void {
  const line = `build-native: ${why}`;
  if (strict) {
    console.error(line);
    process.exit(1);
  }
  console.warn(`${line}\nbuild-native: ${without}; \`npm run build:native\` retries`);
}

if (import.meta.main) {
  const headers = nodeHeadersDir();
  const gyp = nodeGyp();
  if (!headers) fail(`no Node.js headers (include/node/node.h) beside ${process.execPath}`);
  else if (!gyp) fail('node-gyp not found (run it through npm: npm run build:native)');
  else {
    // The headers are passed in npm's variable too: a machine-wide `nodedir` in npm's config (these
    // machines point it at the system Node's headers) reaches node-gyp as npm_config_nodedir and
    // would win over the flag, building for another Node.js.
    const env = { ...process.env, npm_config_nodedir: headers };
    for (const addon of ADDONS) {
      const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${headers}`, `--directory=${addon.dir}`, '--loglevel=warn'], { stdio: 'inherit', env });
      if (r.status !== 0) fail(`node-gyp failed for ${addon.dir} (exit ${r.status ?? r.signal}); python3, make and a C++ compiler are needed`, addon.without);
      else console.log(`build-native: built ${join(addon.dir, 'build/Release', addon.file)} for Node.js ${process.version}`);
    }
  }
}
