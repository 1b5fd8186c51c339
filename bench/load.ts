/**
 * The load generator, run as its own process so it never shares an event loop with the server
 * under test: `node bench/load.ts '<json options>'`. Drives autocannon programmatically at a
 * fixed concurrency and prints one JSON line with the result.
 *
 * autocannon's own latency histogram has 1 ms resolution, too coarse for sub-millisecond
 * requests, so every 2xx response time (fractional ms from `process.hrtime`) is also kept here
 * and the percentiles are computed from the exact values.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

/** What the orchestrator passes (as one JSON argument). */
export interface LoadOptions {
  url: string;
  connections: number;
  durationS: number;
  /** A JSON file holding an array of request bodies; connections cycle through them. */
  bodiesFile: string;
  /** Rows per request, for rows/s. */
  rowsPerRequest: number;
  /** Paced load: requests per second over all connections (default: as fast as the server answers). */
  rate?: number;
  /**
   * Seconds of unmeasured load first, on the same connections' settings; the line
   * {@link MEASURING} is printed when the measured load starts, so the caller can read the
   * server's CPU time at that moment.
   */
  warmupS?: number;
}

/** What the load process prints when the measured part of its load starts. */
export const MEASURING = 'measuring';

/** What the load process prints. */
export interface LoadResult {
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationS: number;
  rps: number;
  rowsPerS: number;
  bytesRead: number;
  /** The load generator's own CPU seconds (user + system) during the run. */
  cpuS: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
}

/** Percentile of sorted values (nearest rank). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
  const bodies = JSON.parse(readFileSync(opts.bodiesFile, 'utf8')) as string[];
  const path = new URL(opts.url).pathname;
  const requests = bodies.map((body) => ({ method: 'POST' as const, path, body }));
  const run = (durationS: number) =>
    autocannon({
      url: opts.url,
      connections: opts.connections,
      duration: durationS,
      pipelining: 1,
      timeout: 10,
      ...(opts.rate ? { overallRate: opts.rate } : {}),
      headers: { 'content-type': 'application/json' },
      requests,
    });
  if (opts.warmupS) await run(opts.warmupS);
  process.stdout.write(MEASURING + '\n');
  const cpu0 = process.cpuUsage();
  let times = new Float64Array(1 << 16);
  let n = 0;
  const instance = run(opts.durationS);
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode < 200 || statusCode > 299) return;
    if (n === times.length) {
      const bigger = new Float64Array(times.length * 2);
      bigger.set(times);
      times = bigger;
    }
    times[n++] = responseTime;
  });
  const r = await instance;
  const cpu = process.cpuUsage(cpu0);
  const sorted = times.subarray(0, n).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  const ok = r['2xx'];
  const result: LoadResult = {
    requests: ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    durationS: r.duration,
    rps: ok / r.duration,
    rowsPerS: (ok * opts.rowsPerRequest) / r.duration,
    bytesRead: r.throughput.total,
    cpuS: (cpu.user + cpu.system) / 1e6,
    latencyMs: {
      mean: n ? sum / n : 0,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: n ? sorted[n - 1]! : 0,
    },
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (import.meta.main) await main();
