/**
 * Profiles one benchmark configuration under load: starts it with `node --cpu-prof`, drives it
 * with the load generator, stops it (the profile is written at exit) and prints where the CPU
 * time went: top functions by self time, self time by area (telemetry, HTTP, Hono, ONNX, GC…)
 * and the inclusive time of the request path's main steps.
 *
 *   node bench/profile.ts                                  # the default service, single rows
 *   node bench/profile.ts --config baseline --workload batch --duration 20
 *   node bench/profile.ts --config baseline+sdk            # the baseline under the telemetry preload
 *   node bench/profile.ts --analyse some.cpuprofile        # only analyse an existing profile
 *   node bench/profile.ts --root /tmp/copy                 # profile a modified copy of the repo
 *
 * Load a .cpuprofile in Chrome DevTools (Performance tab) or speedscope for a flame graph.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { applyPinning, baselineArgs, baselineWithSdkArgs, planPinning, ROOT, runLoad, serviceArgs, startServer, writeBodies } from './lib.ts';
import { startOtlpSink } from './otlp-sink.ts';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Which part of the process a frame belongs to. */
export function area(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'native/program';
    return `native (${functionName || 'anonymous'})`;
  }
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) {
    const pkg = m[1]!;
    if (pkg.startsWith('@opentelemetry/')) return 'OpenTelemetry SDK';
    if (pkg === 'hono') return 'hono';
    if (pkg === '@hono/node-server') return '@hono/node-server';
    if (pkg === 'onnxruntime-node' || pkg === 'onnxruntime-common') return 'onnxruntime JS';
    return pkg;
  }
  if (url.startsWith('node:')) {
    if (/node:(_http|http|net|stream|internal\/streams|internal\/http|internal\/stream_base|events)/.test(url)) return 'node http/net/streams';
    if (/async_hooks|async_local_storage|async_context/.test(url)) return 'node async_hooks';
    return 'node other';
  }
  if (/\/telemetry\//.test(url)) return 'telemetry/ (ours)';
  if (/\/src\/http\/json\.ts/.test(url)) return 'src/http/json.ts';
  if (/\/src\/model\/rows\.ts/.test(url)) return 'src/model/rows.ts';
  if (/\/src\/model\/(drift|quality|stats)\.ts/.test(url)) return 'src/model quality+drift';
  if (/\/src\//.test(url)) return 'src/ other';
  if (/\/bench\//.test(url)) return 'bench/';
  return url;
}

const short = (url: string) => url.replace(/^file:\/\/.*?\/(node_modules|src|telemetry|bench)\//, '$1/');

/** Summarises a profile as text. */
export function analyse(profile: CpuProfile, top = 30): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let total = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
    if (byId.get(id)?.callFrame.functionName === '(idle)') idle += dt;
  }
  const busy = total - idle;
  const key = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${short(f.url)}:${f.lineNumber + 1}`;
  const fnSelf = new Map<string, { us: number; area: string }>();
  const areaSelf = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    const k = key(f);
    const a = area(f);
    fnSelf.set(k, { us: (fnSelf.get(k)?.us ?? 0) + us, area: a });
    areaSelf.set(a, (areaSelf.get(a) ?? 0) + us);
  }
  // Inclusive time: every distinct function on a sample's stack gets the sample's time.
  const incl = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    const seen = new Set<string>();
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      const k = f.functionName ? `${f.functionName} ${short(f.url).replace(/:\d+$/, '')}` : '';
      if (k && !seen.has(k)) {
        seen.add(k);
        incl.set(k, (incl.get(k) ?? 0) + dt);
      }
    }
  }
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
  const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
  const out: string[] = [];
  out.push(`profile: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (idle ${((100 * idle) / total).toFixed(0)} %); percentages are of busy time`, '');
  out.push('self time by area:');
  for (const [a, us] of [...areaSelf].filter(([a]) => a !== 'idle').sort((x, y) => y[1] - x[1])) out.push(`  ${pct(us)} ${ms(us)}  ${a}`);
  out.push('', `top ${top} functions by self time:`);
  for (const [k, v] of [...fnSelf].filter(([, v]) => v.area !== 'idle').sort((x, y) => y[1].us - x[1].us).slice(0, top)) {
    out.push(`  ${pct(v.us)} ${ms(v.us)}  ${k}  [${v.area}]`);
  }
  out.push('', 'inclusive time of selected steps:');
  const steps = [
    'requestMetricsMiddleware',
    'meteredFetch',
    'record',
    'recordPredictions',
    'recordScores',
    'observe',
    'add',
    'parseJsonBody',
    'findDuplicateKey',
    'parse',
    'predict',
    'run',
    'json',
    'text',
    'startActiveSpan',
    'startSpan',
    'onEnd',
    'export',
    'serialize',
    'collect',
    'getRequestListener',
  ];
  const rows = [...incl].filter(([k]) => steps.includes(k.split(' ')[0]!)).sort((x, y) => y[1] - x[1]).slice(0, 30);
  for (const [k, us] of rows) out.push(`  ${pct(us)} ${ms(us)}  ${k}`);
  return out.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string', default: 'default' },
      workload: { type: 'string', default: 'single' },
      duration: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '3' },
      connections: { type: 'string', default: '16' },
      out: { type: 'string', default: join(ROOT, 'bench/results/profiles') },
      root: { type: 'string' },
      analyse: { type: 'string' },
      top: { type: 'string', default: '30' },
    },
  });
  if (values.analyse) {
    process.stdout.write(analyse(JSON.parse(readFileSync(values.analyse, 'utf8')) as CpuProfile, Number(values.top)) + '\n');
    return;
  }
  const pinning = planPinning();
  if (pinning) applyPinning(pinning);
  const out = resolve(values.out!);
  const dir = join(out, `${values.config}-${values.workload}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const prof = ['--cpu-prof', '--cpu-prof-dir', dir];
  const env: Record<string, Record<string, string>> = {
    baseline: {},
    'sdk-disabled': { OTEL_SDK_DISABLED: 'true' },
    default: {},
    'quality-off': { MODEL_QUALITY_METRICS: 'false' },
    traces: { OTEL_TRACES_EXPORTER: 'otlp' },
    'baseline+sdk': {},
  };
  const sink = values.config === 'traces' ? await startOtlpSink() : undefined;
  if (sink) env.traces!.OTEL_EXPORTER_OTLP_ENDPOINT = sink.url;
  if (!env[values.config!]) throw new Error(`unknown --config ${values.config}`);
  const serverArgs = { baseline: baselineArgs, 'baseline+sdk': baselineWithSdkArgs }[values.config!] ?? serviceArgs;
  const argv = [...prof, ...serverArgs()];
  const rows = values.workload === 'batch' ? 64 : 1;
  const bodiesFile = join(dir, 'bodies.json');
  writeBodies(bodiesFile, rows, rows === 1 ? 64 : 8);
  const server = await startServer({ argv, env: env[values.config!]! }, 30_000, values.root ? resolve(values.root) : undefined);
  try {
    const opts = { url: `${server.url}/predict`, connections: Number(values.connections), bodiesFile, rowsPerRequest: rows };
    await runLoad({ ...opts, durationS: Number(values.warmup) });
    const r = await runLoad({ ...opts, durationS: Number(values.duration) });
    process.stderr.write(`profile: ${values.config}/${values.workload}: ${Math.round(r.rps)} req/s, p99 ${r.latencyMs.p99.toFixed(2)} ms\n`);
  } finally {
    await server.stop();
    await sink?.close();
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
  const text = analyse(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile, Number(values.top));
  writeFileSync(join(dir, 'analysis.txt'), text + '\n');
  process.stdout.write(`${join(dir, file)}\n\n${text}\n`);
}

if (import.meta.main) await main();
