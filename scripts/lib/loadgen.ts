/**
 * Realistic traffic for the service: rows sampled from the data set, single rows or batches, at
 * a target rate (open loop: requests are sent on schedule whether or not earlier ones answered,
 * as real clients do), with an optional share of bad requests and optional feature drift.
 */
import { readFileSync } from 'node:fs';

/** A mix of the mistakes real clients make; each maps to one status the API must answer. */
export const BAD_KINDS = ['malformed_json', 'missing_feature', 'string_value', 'wrong_content_type', 'unknown_route', 'empty_batch'] as const;
export type BadKind = (typeof BAD_KINDS)[number];

/** Multiplies a feature by a factor (`mean_radius*1.5`) or adds to it (`mean_radius+5`). */
export interface DriftSpec {
  readonly feature: string;
  readonly op: '*' | '+';
  readonly value: number;
}

/** Options for {@link runLoad}. */
export interface LoadOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:8000 */
  url: string;
  /** Target requests per second. */
  rate: number;
  /** Seconds to run. */
  durationS: number;
  /** Rows per request: one size, or several to pick from at random ("1,8,64"). 1 sends `features`. */
  batchSizes?: readonly number[];
  /** Share of requests (0..1) that are deliberately bad. */
  badShare?: number;
  drift?: readonly DriftSpec[];
  /** Most requests in flight at once; beyond it a tick is skipped and counted as dropped. */
  maxInFlight?: number;
  /** The data set to sample rows from. */
  dataPath?: string;
  seed?: number;
  /** Called about once a second with the running totals. */
  onProgress?: (s: LoadSummary) => void;
  /** Stops early when aborted. */
  signal?: AbortSignal;
}

/** Totals of a run. */
export interface LoadSummary {
  elapsedS: number;
  sent: number;
  rows: number;
  byStatus: Record<string, number>;
  /** Requests that failed at the network level (connection refused, reset). */
  errors: number;
  dropped: number;
  /** Good requests sent, and the predictions they should have produced. */
  good: number;
  bad: number;
  latencyMs: { p50: number; p99: number; max: number };
}

/** Parses `--drift "mean_radius*1.5,worst_area+100"`. */
export function parseDrift(spec: string, features: readonly string[]): DriftSpec[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const m = /^([A-Za-z_][\w]*)\s*([*+])\s*(-?[\d.]+(?:e-?\d+)?)$/.exec(item);
      if (!m) throw new Error(`bad drift item '${item}': expected feature*factor or feature+offset`);
      if (!features.includes(m[1]!)) throw new Error(`unknown feature '${m[1]}' in --drift`);
      return { feature: m[1]!, op: m[2] as '*' | '+', value: Number(m[3]) };
    });
}

/** Reads the data set: feature names and rows (label dropped). */
export function readRows(path: string): { features: string[]; rows: number[][] } {
  const lines = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  const header = lines[0]!.split(',');
  return { features: header.slice(0, -1), rows: lines.slice(1).map((l) => l.split(',').slice(0, -1).map(Number)) };
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Runs the load and resolves with the final summary. */
export async function runLoad(opts: LoadOptions): Promise<LoadSummary> {
  const { features, rows } = readRows(opts.dataPath ?? 'data/breast-cancer-wisconsin.csv');
  const rand = mulberry32(opts.seed ?? 1);
  const sizes = opts.batchSizes?.length ? opts.batchSizes : [1];
  const badShare = opts.badShare ?? 0;
  const maxInFlight = opts.maxInFlight ?? 256;
  const drift = (opts.drift ?? []).map((d) => ({ ...d, index: features.indexOf(d.feature) }));
  const latencies: number[] = [];
  const summary: LoadSummary = { elapsedS: 0, sent: 0, rows: 0, byStatus: {}, errors: 0, dropped: 0, good: 0, bad: 0, latencyMs: { p50: 0, p99: 0, max: 0 } };
  let inFlight = 0;

  const sampleRow = () => {
    const row = [...rows[Math.floor(rand() * rows.length)]!];
    for (const d of drift) row[d.index] = d.op === '*' ? row[d.index]! * d.value : row[d.index]! + d.value;
    return row;
  };

  const goodRequest = (): { path: string; init: RequestInit; rows: number } => {
    const n = sizes[Math.floor(rand() * sizes.length)]!;
    const asNamed = rand() < 0.5;
    const one = () => {
      const r = sampleRow();
      return asNamed ? { features: Object.fromEntries(features.map((f, i) => [f, r[i]])) } : { features: r };
    };
    const body = n === 1 ? one() : { instances: Array.from({ length: n }, one) };
    return { path: '/predict', init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, rows: n };
  };

  const badRequest = (): { path: string; init: RequestInit } => {
    const kind = BAD_KINDS[Math.floor(rand() * BAD_KINDS.length)]!;
    const json = { 'content-type': 'application/json' };
    const row = sampleRow();
    switch (kind) {
      case 'malformed_json':
        return { path: '/predict', init: { method: 'POST', headers: json, body: '{"features": [1, 2,' } };
      case 'missing_feature':
        return { path: '/predict', init: { method: 'POST', headers: json, body: JSON.stringify({ features: row.slice(1) }) } };
      case 'string_value':
        return { path: '/predict', init: { method: 'POST', headers: json, body: JSON.stringify({ features: [String(row[0]), ...row.slice(1)] }) } };
      case 'wrong_content_type':
        return { path: '/predict', init: { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ features: row }) } };
      case 'unknown_route':
        return { path: `/predict/v${Math.floor(rand() * 1000)}`, init: { method: 'POST', headers: json, body: '{}' } };
      case 'empty_batch':
        return { path: '/predict', init: { method: 'POST', headers: json, body: '{"instances": []}' } };
    }
  };

  const fire = async () => {
    if (inFlight >= maxInFlight) {
      summary.dropped++;
      return;
    }
    const isBad = rand() < badShare;
    let req: { path: string; init: RequestInit };
    if (isBad) {
      req = badRequest();
      summary.bad++;
    } else {
      const good = goodRequest();
      req = good;
      summary.good++;
      summary.rows += good.rows;
    }
    summary.sent++;
    inFlight++;
    const t0 = performance.now();
    try {
      const res = await fetch(opts.url + req.path, { ...req.init, signal: AbortSignal.timeout(30_000) });
      await res.arrayBuffer();
      summary.byStatus[res.status] = (summary.byStatus[res.status] ?? 0) + 1;
      latencies.push(performance.now() - t0);
    } catch {
      summary.errors++;
    } finally {
      inFlight--;
    }
  };

  const started = performance.now();
  const intervalMs = 1000 / opts.rate;
  let due = 0;
  let lastProgress = started;
  const pending = new Set<Promise<void>>();
  const refresh = () => {
    summary.elapsedS = (performance.now() - started) / 1000;
    const sorted = [...latencies].sort((a, b) => a - b);
    summary.latencyMs = { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? 0 };
  };
  while (!opts.signal?.aborted) {
    const now = performance.now();
    const elapsed = now - started;
    if (elapsed >= opts.durationS * 1000) break;
    // Catch up on every request that is due by now (open loop), then sleep to the next one.
    while (due * intervalMs <= elapsed) {
      const p = fire();
      pending.add(p);
      void p.finally(() => pending.delete(p));
      due++;
    }
    if (opts.onProgress && now - lastProgress >= 1000) {
      lastProgress = now;
      refresh();
      opts.onProgress(summary);
    }
    await new Promise((r) => setTimeout(r, Math.max(1, Math.min(intervalMs, due * intervalMs - (performance.now() - started)))));
  }
  await Promise.all(pending);
  refresh();
  return summary;
}
