/**
 * A diagnostic beside `npm run bench`: loads several servers *at the same time*, all pinned to
 * the one server core, and compares their CPU time per request window by window.
 *
 * Why: this VM's speed changes within seconds, so two servers measured one after the other can
 * differ by 20 % for reasons of the machine's, not theirs. Loaded at once, they share the core
 * (the kernel gives each a fair share) and every window sees the same machine for all of them,
 * so the ratio of their CPU per request is exact to a per cent or two. It answers "which of these
 * costs more per request, and by how much"; throughput and latency under sharing mean nothing,
 * and it is not the in-turn measurement, which `npm run bench` makes.
 *
 *   node bench/shared-core.ts                                     # baseline vs default, 8 × 5 s
 *   node bench/shared-core.ts --configs baseline,baseline,baseline,baseline   # A/A: process to process
 *   node bench/shared-core.ts --configs default,default@/tmp/old --windows 12 # against a copy of the repo
 *   node bench/shared-core.ts --configs baseline,baseline+sdk-disabled,baseline+sdk,baseline,baseline+sdk-disabled,baseline+sdk
 *   node bench/shared-core.ts --configs baseline,baseline@/tmp/old --rows 64                  # batches of 64 rows
 *
 * A configuration written `id@DIR` runs from the repository copy at DIR; `id~NAME=VALUE` (repeatable)
 * adds an environment variable, e.g. `traces~OTEL_BSP_MAX_EXPORT_BATCH_SIZE=128`, and `id~--flag=VALUE` a node
 * flag (replacing the start script's own of that name), e.g. `default~--max-semi-space-size=32`.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { median } from './report.ts';
import { startOtlpSink, type OtlpSink } from './otlp-sink.ts';
import { applyPinning, baselineArgs, baselineWithSdkArgs, planPinning, readProc, runLoad, serviceArgs, startServer, tracesEnv, writeBodies, type RunningServer, type ServerSpec } from './lib.ts';

let sink: OtlpSink | undefined;

const SPECS: Record<string, () => ServerSpec> = {
  baseline: () => ({ argv: baselineArgs(), env: {} }),
  'sdk-disabled': () => ({ argv: serviceArgs(), env: { OTEL_SDK_DISABLED: 'true' } }),
  'no-quality': () => ({ argv: serviceArgs(), env: { MODEL_QUALITY_METRICS: 'false' } }),
  default: () => ({ argv: serviceArgs(), env: {} }),
  // The baseline app under the telemetry preload: what the running SDK costs a process whose
  // requests record nothing (its module graph alone, with OTEL_SDK_DISABLED=true).
  'baseline+sdk': () => ({ argv: baselineWithSdkArgs(), env: {} }),
  'baseline+sdk-disabled': () => ({ argv: baselineWithSdkArgs(), env: { OTEL_SDK_DISABLED: 'true' } }),
  // As in `npm run bench`: a span per request over OTLP/HTTP protobuf to a sink in this process.
  traces: () => ({ argv: serviceArgs(), env: tracesEnv(sink!.url) }),
};

/** Splits `id~NAME=VALUE…@DIR` into its parts. */
function parseName(name: string): { id: string; dir: string | undefined; env: Record<string, string>; flags: string[] } {
  const [head, dir] = name.split('@') as [string, string | undefined];
  const [id, ...extras] = head.split('~') as [string, ...string[]];
  const vars = extras.filter((v) => !v.startsWith('--'));
  const env = Object.fromEntries(vars.map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]));
  return { id, dir, env, flags: extras.filter((v) => v.startsWith('--')) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      configs: { type: 'string', default: 'baseline,default' },
      windows: { type: 'string', default: '8' },
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '16' },
      rows: { type: 'string', default: '1' },
    },
  });
  const names = values.configs!.split(',').map((s) => s.trim());
  for (const n of names) if (!SPECS[parseName(n).id]) throw new Error(`unknown configuration ${n} (known: ${Object.keys(SPECS).join(', ')})`);
  const windows = Number(values.windows);
  const durationS = Number(values.duration);
  // The total concurrency is split between the servers, so the core is saturated as in the bench.
  const connections = Math.max(2, Math.round(Number(values.connections) / names.length));
  const pin = planPinning();
  if (!pin) throw new Error('needs two or more cores and taskset: the servers share one core, the load generators the others');
  applyPinning(pin);
  const bodies = join(mkdtempSync(join(tmpdir(), 'shared-core-')), 'bodies.json');
  const rows = Number(values.rows);
  writeBodies(bodies, rows, 64);

  const servers: { name: string; server: RunningServer }[] = [];
  if (names.some((n) => n.startsWith('traces'))) sink = await startOtlpSink();
  try {
    for (const name of names) {
      const { id, dir, env, flags } = parseName(name);
      const spec = SPECS[id]!();
      const named = (a: string) => a.split('=')[0];
      const argv = [...flags, ...spec.argv.filter((a) => !flags.some((f) => named(f) === named(a)))];
      servers.push({ name, server: await startServer({ argv, env: { ...spec.env, ...env } }, 30_000, dir) });
    }
    const ratios: number[][] = names.map(() => []);
    // The first, longer window is the warm-up, not reported.
    for (let w = -1; w < windows; w++) {
      const before = servers.map(({ server }) => readProc(server.pid)?.cpuS ?? NaN);
      const loads = await Promise.all(
        servers.map(({ server }) => runLoad({ url: `${server.url}/predict`, connections, durationS: w < 0 ? 6 : durationS, bodiesFile: bodies, rowsPerRequest: rows })),
      );
      const cpuUs = servers.map(({ server }, i) => (((readProc(server.pid)?.cpuS ?? NaN) - before[i]!) * 1e6) / loads[i]!.requests);
      if (w < 0) continue;
      process.stderr.write(`window ${w + 1}/${windows}: ${servers.map(({ name }, i) => `${name} ${cpuUs[i]!.toFixed(1)} µs/req`).join(' · ')}\n`);
      cpuUs.forEach((c, i) => ratios[i]!.push(cpuUs[0]! / c));
    }
    process.stdout.write(`CPU per request of ${names[0]} ÷ each one's (a throughput-equivalent ratio; ${windows} windows of ${durationS} s, loaded at once):\n`);
    names.forEach((n, i) => {
      const r = ratios[i]!;
      process.stdout.write(`  ${n.padEnd(24)} median ${median(r).toFixed(3)}  range ${Math.min(...r).toFixed(3)}-${Math.max(...r).toFixed(3)}\n`);
    });
  } finally {
    for (const { server } of servers) await server.stop();
    await sink?.close();
  }
}

if (import.meta.main) await main();
