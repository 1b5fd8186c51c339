/**
 * A diagnostic beside `npm run bench`: does the runtime metrics' continuous work cost anything
 * per request? One baseline server (no telemetry) runs with `runtime-toggle-preload.ts`, which
 * switches an event-loop-delay monitor (10 ms sampling, as the runtime instrumentation's) and a
 * GC PerformanceObserver on and off on a signal. The server is loaded in windows, the four modes
 * (none, eld, gc, eld+gc) in turn each round, the order reversed every other round, and each
 * mode's CPU per request is compared with the `none` window of the same round.
 *
 * Why one process: identical server processes differ in speed for their whole life (up to 9 %
 * on this VM, `bench/shared-core.ts`), which is larger than the effect asked about; switching
 * inside one process takes that out.
 *
 *   node bench/runtime-toggle.ts --rounds 12 --duration 3
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { median } from './report.ts';
import { applyPinning, baselineArgs, planPinning, runLoad, runMeasuredLoad, startServer, writeBodies } from './lib.ts';

const MODES = ['none', 'eld', 'gc', 'eld+gc'] as const;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '10' },
      duration: { type: 'string', default: '3' },
      connections: { type: 'string', default: '16' },
      warmup: { type: 'string', default: '8' },
    },
  });
  const rounds = Number(values.rounds);
  const durationS = Number(values.duration);
  const connections = Number(values.connections);
  const pin = planPinning();
  if (pin) applyPinning(pin);
  const dir = mkdtempSync(join(tmpdir(), 'runtime-toggle-'));
  const bodies = join(dir, 'bodies.json');
  const modeFile = join(dir, 'mode');
  writeBodies(bodies, 1, 64);
  writeFileSync(modeFile, 'none');
  const server = await startServer({ argv: ['--import', './bench/runtime-toggle-preload.ts', ...baselineArgs()], env: { RUNTIME_TOGGLE_FILE: modeFile } });
  const target = { url: `${server.url}/predict`, connections, bodiesFile: bodies, rowsPerRequest: 1 };
  const load = (s: number) => runLoad({ ...target, durationS: s });
  const cpuUs: Record<string, number[]> = Object.fromEntries(MODES.map((m) => [m, []]));
  try {
    await load(Number(values.warmup)); // V8 optimises the request path first
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? [...MODES].reverse() : MODES;
      const line: string[] = [];
      for (const mode of order) {
        writeFileSync(modeFile, mode);
        process.kill(server.pid, 'SIGUSR2');
        // Half a second of unmeasured load first, while the switch settles.
        const { cpuUsPerRequest: us } = await runMeasuredLoad(server.pid, { ...target, durationS, warmupS: 0.5 });
        cpuUs[mode]!.push(us);
        line.push(`${mode} ${us.toFixed(1)}`);
      }
      process.stderr.write(`round ${r + 1}/${rounds}: ${line.join(' · ')} µs/req\n`);
    }
    // A last switch makes the preload write what it recorded while the monitors were on.
    writeFileSync(modeFile, 'none');
    process.kill(server.pid, 'SIGUSR2');
    await load(0.2);
    const seen = JSON.parse(readFileSync(`${modeFile}.seen`, 'utf8')) as { eldSamples: number; gcEntries: number; gcSeconds: number };
    process.stderr.write(`recorded while on: ${seen.eldSamples} event-loop-delay samples, ${seen.gcEntries} GC entries (${(seen.gcSeconds * 1000).toFixed(1)} ms of GC)\n`);
    process.stdout.write(`CPU per request of none ÷ each mode's, paired by round (${rounds} rounds of ${durationS} s windows, one process):\n`);
    for (const mode of MODES) {
      const ratios = cpuUs[mode]!.map((us, i) => cpuUs.none![i]! / us);
      process.stdout.write(
        `  ${mode.padEnd(7)} median ${median(cpuUs[mode]!).toFixed(1)} µs/req  × none ${median(ratios).toFixed(3)}  range ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)}\n`,
      );
    }
  } finally {
    await server.stop();
  }
}

await main();
