import { applyPinning, planPinning, runLoad, startServer, writeBodies, readProc, serviceArgs } from './lib.ts';
const pin = planPinning(); if (pin) applyPinning(pin);
const f = '/tmp/bodies1.json'; writeBodies(f, 1, 64);
const specs: Record<string, { argv: string[]; env: Record<string, string> }> = {
  baseline: { argv: ['bench/baseline-server.ts'], env: {} },
  disabled: { argv: serviceArgs(), env: { OTEL_SDK_DISABLED: 'true' } },
  default: { argv: serviceArgs(), env: {} },
  noquality: { argv: serviceArgs(), env: { MODEL_QUALITY_METRICS: 'false' } },
  none: { argv: serviceArgs(), env: { OTEL_METRICS_EXPORTER: 'none' } },
  base_preload: { argv: ['--import', './telemetry/register.ts', 'bench/baseline-server.ts'], env: { OTEL_SDK_DISABLED: 'true' } },
  dis_nomw: { argv: serviceArgs(), env: { OTEL_SDK_DISABLED: 'true', NO_MW: '1' } },
  dis_noq: { argv: serviceArgs(), env: { OTEL_SDK_DISABLED: 'true', MODEL_QUALITY_METRICS: 'false' } },
  dis_nomw_noq: { argv: serviceArgs(), env: { OTEL_SDK_DISABLED: 'true', NO_MW: '1', MODEL_QUALITY_METRICS: 'false' } },
};
const ids = process.argv.slice(2);
const servers = await Promise.all(ids.map((id) => startServer(specs[id]!)));
const res: Record<string, number[]> = {};
for (let w = 0; w < Number(process.env.W ?? 8); w++) for (let i = 0; i < ids.length; i++) {
  const s = servers[i]!;
  const a = readProc(s.pid)!;
  const r = await runLoad({ url: s.url + '/predict', connections: 16, durationS: 2, bodiesFile: f, rowsPerRequest: 1 });
  const b = readProc(s.pid)!;
  (res[ids[i]!] ??= []).push(Math.round((b.cpuS - a.cpuS) / r.requests * 1e6));
}
for (const id of ids) { const v = res[id]!.slice(3).sort((a, b) => a - b); console.log(id.padEnd(14), res[id]!.join(' '), 'median(after 3)', v[v.length >> 1]); }
await Promise.all(servers.map((s) => s.stop()));
