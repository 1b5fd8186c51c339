/**
 * A diagnostic beside `npm run bench`: serves the baseline app and service apps in *one*
 * process, one port each, loads them in turn (rounds of short windows, the order rotated) and
 * compares their CPU time per request window by window.
 *
 * Why: separate processes differ in speed for their whole life (0.97-1.03 × for identical
 * baselines) and this VM's speed changes within seconds, so a cost of 1-3 µs per request is lost
 * in the noise between processes. In one process the apps share the runtime, the heap, the
 * JIT's view of the shared code (Hono, @hono/node-server, the parser, onnxruntime) and the
 * machine's speed of the moment; what differs is only the code of each app's own request path.
 * It answers "what does this piece of the request path cost over HTTP", which a loop calling
 * `app.fetch` does not: there the code stays in the CPU's caches, and a piece measured at 0.2 µs
 * in a loop costs several times that between real requests.
 *
 *   node bench/in-process.ts                                            # baseline vs the service's request path
 *   node bench/in-process.ts --apps baseline,service,service@/tmp/variant --rounds 24
 *
 * `service` is the app as `npm start` builds it (request metrics and quality monitor recording
 * into real pre-aggregated series; no SDK reader, so nothing is collected), `service@DIR` the
 * same from the repository copy at DIR (a variant with a piece taken out or changed).
 */
import { serve } from '@hono/node-server';
import { metrics } from '@opentelemetry/api';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { createBaselineApp } from './baseline-app.ts';
import { median } from './report.ts';
import { applyPinning, freePort, planPinning, ROOT, runLoad, runMeasuredLoad, runtimeFlags, spawnTracked, writeBodies } from './lib.ts';

/** The server side: `node bench/in-process.ts --serve name=port,...`, prints `ready` when listening. */
async function serveApps(spec: string): Promise<void> {
  const { loadModel } = await import('../src/model/model.ts');
  const { loadServiceConfig, modelSettings } = await import('../src/config.ts');
  // The service's defaults (model, card, limits, quality options), as `npm start` gets them.
  const config = loadServiceConfig({});
  const model = await loadModel({ modelPath: config.modelPath, cardPath: config.modelCardPath, ...modelSettings(config) });
  for (const entry of spec.split(',')) {
    const [name, port] = entry.split('=') as [string, string];
    const [kind, dir = ROOT] = name.split('@') as [string, string | undefined];
    let fetch;
    if (kind === 'baseline') {
      fetch = createBaselineApp({ model, maxBodyBytes: config.maxBodyBytes }).fetch;
    } else {
      // Each copy's own modules, so a variant's request path is its own code.
      const { createApp } = await import(join(dir!, 'src/app.ts'));
      const { createQualityMonitor } = await import(join(dir!, 'src/model/quality.ts'));
      const { ModelStore } = await import(join(dir!, 'src/model/store.ts'));
      const { createServiceMetrics } = await import(join(dir!, 'telemetry/metrics.ts'));
      const { PreaggregatedMetrics } = await import(join(dir!, 'telemetry/preaggregated.ts'));
      const serviceMetrics = createServiceMetrics(metrics.getMeter('inference-api'), { preaggregated: new PreaggregatedMetrics() });
      const quality = createQualityMonitor(serviceMetrics, config.quality);
      fetch = createApp({ models: new ModelStore(model), metrics: serviceMetrics, isReady: () => true, quality, limits: { maxBodyBytes: config.maxBodyBytes } }).fetch;
    }
    serve({ fetch, port: Number(port), hostname: '127.0.0.1' });
  }
  process.stdout.write('ready\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      serve: { type: 'string' },
      apps: { type: 'string', default: 'baseline,service' },
      rounds: { type: 'string', default: '24' },
      duration: { type: 'string', default: '1' },
      connections: { type: 'string', default: '16' },
    },
  });
  if (values.serve) return serveApps(values.serve);
  const names = values.apps!.split(',').map((s) => s.trim());
  if (names[0] !== 'baseline') throw new Error('the first app must be the baseline: ratios are against it');
  const rounds = Number(values.rounds);
  const durationS = Number(values.duration);
  const connections = Number(values.connections);
  const pin = planPinning();
  if (pin) applyPinning(pin);
  const bodiesFile = join(mkdtempSync(join(tmpdir(), 'in-process-')), 'bodies.json');
  writeBodies(bodiesFile, 1, 64);
  const ports = await Promise.all(names.map(() => freePort()));
  const proc = spawnTracked([...runtimeFlags(), join(ROOT, 'bench/in-process.ts'), '--serve', names.map((n, i) => `${n}=${ports[i]}`).join(',')], {
    env: { PATH: process.env.PATH ?? '' },
    ...(pin ? { cpus: pin.server } : {}),
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    proc.once('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
  try {
    const target = (i: number) => ({ url: `http://127.0.0.1:${ports[i]}/predict`, connections, bodiesFile, rowsPerRequest: 1 });
    for (let i = 0; i < names.length; i++) await runLoad({ ...target(i), durationS: 4 });
    const cpuUs: number[][] = names.map(() => []);
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < names.length; k++) {
        const i = (k + r) % names.length;
        const { cpuUsPerRequest } = await runMeasuredLoad(proc.pid!, { ...target(i), durationS, warmupS: 0.5 });
        cpuUs[i]!.push(cpuUsPerRequest);
      }
      process.stderr.write(`round ${r + 1}/${rounds}: ${names.map((n, i) => `${n} ${cpuUs[i]!.at(-1)!.toFixed(1)}`).join(' · ')} µs/req\n`);
    }
    process.stdout.write(`CPU per request in one process (${rounds} rounds of ${durationS} s windows); ratio = the baseline's ÷ each one's in the same round:\n`);
    names.forEach((n, i) => {
      const ratios = cpuUs[i]!.map((c, r) => cpuUs[0]![r]! / c);
      process.stdout.write(`  ${n.padEnd(28)} median ${median(cpuUs[i]!).toFixed(1)} µs/req  ratio median ${median(ratios).toFixed(3)}\n`);
    });
  } finally {
    proc.kill();
  }
}

if (import.meta.main) await main();
