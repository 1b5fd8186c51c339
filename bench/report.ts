/**
 * Turning benchmark runs into results: medians across rounds, ratios against the baseline, the
 * telemetry budget, and the three outputs (a console table, a markdown summary, an SVG chart).
 * Pure functions of the collected data, so the test can check them without running a load.
 */
import type { LoadResult } from './load.ts';
import { percentile } from './load.ts';

/** A configuration under test. */
export interface ConfigInfo {
  id: string;
  label: string;
}

/** A workload: rows per request at a fixed concurrency. */
export interface WorkloadInfo {
  id: string;
  label: string;
  rowsPerRequest: number;
  connections: number;
  /** Paced: requests/s over all connections; unset means closed-loop (as fast as answered). */
  rate?: number;
  /** How often the scraper fetches both `/metrics` ports (and `/health`, as a control) during the load. */
  scrapeIntervalMs: number;
  /** Rounds of this workload (default: the run's `--rounds`). */
  rounds?: number;
}

/** One timed scrape of a `/metrics` endpoint. */
export interface ScrapeSample {
  /** `api` and `scrape`: `/metrics` on the API port and on the scrape port; `health`: the control, `/health`. */
  port: ScrapeTarget;
  /** From the request to the last byte, at the client. */
  ms: number;
  /** The server's own render time, from its `Server-Timing` header (null when absent). */
  serverMs: number | null;
  bytes: number;
  status: number;
}

/** What the scraper fetches: both `/metrics` ports and, as a control for the machine's own latency, `/health`. */
export type ScrapeTarget = 'api' | 'scrape' | 'health';

/** Scrape statistics by target. */
export type ScrapeSummary = Partial<Record<ScrapeTarget, ScrapeStats>>;

/** One configuration × workload × round. */
export interface RunRecord {
  round: number;
  /** The window's place in its workload's sequence (0, 1, 2, ...): which baseline windows neighbour it. */
  seq?: number;
  config: string;
  workload: string;
  load: LoadResult;
  /** Server CPU time (user + system) per successful request, in microseconds. */
  cpuUsPerRequest: number | null;
  /** Server CPU seconds per wall second during the load (1 = one core busy). */
  cpuCores: number | null;
  /** Largest RSS sampled during the load. */
  rssPeakMB: number | null;
  /** The process's peak RSS so far (VmHWM). */
  hwmMB: number | null;
  scrapes: ScrapeSample[];
  /**
   * CPU cores used by everything except the server and the load generator during the run
   * (other processes on the machine, the orchestrator, hypervisor steal): a noise indicator.
   */
  otherCores?: number | null;
  extra?: Record<string, unknown>;
}

/** Scrape timings of one port, pooled over rounds. */
export interface ScrapeStats {
  n: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The server's render time (Server-Timing); null for the `/health` control. */
  serverP50Ms: number | null;
  serverP99Ms: number | null;
  bytes: number;
}

/** Medians across rounds of one configuration × workload. */
export interface Aggregate {
  config: string;
  workload: string;
  rounds: number;
  rps: number;
  rowsPerS: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  cpuUsPerRequest: number | null;
  cpuCores: number | null;
  rssPeakMB: number | null;
  /** Median of the runs' {@link RunRecord.otherCores}. */
  otherCores: number | null;
  /** Non-2xx responses, errors and timeouts, summed over rounds. */
  failures: number;
  scrape: ScrapeSummary | null;
  /** Against the baseline configuration, same workload: medians of the per-window ratios. */
  ratio: { rps: number | null; p99: number | null; cpu: number | null };
  /**
   * The throughput ratio over the calm windows only: those whose baseline references ran within
   * 15 % of the baseline's best CPU time per request in this workload (this VM has slow spells in
   * which every process runs up to twice as slow, and larger processes slow down more). Shown
   * beside the verdicts, never instead of them.
   */
  calm?: { rps: number | null; windows: number; of: number };
  /** A 95 % interval of the throughput ratio's median ({@link medianInterval}), and over how many windows. */
  rpsInterval?: { low: number; high: number; windows: number } | null;
}

/** The soak at the default configuration. */
export interface SoakResult {
  config: string;
  warmupS: number;
  durationS: number;
  rssAfterWarmupMB: number;
  rssEndMB: number;
  /** end / after warm-up. */
  ratio: number;
  samples: { t: number; rssMB: number }[];
  load: LoadResult;
  scrape: ScrapeSummary | null;
  shortened: boolean;
}

/**
 * The scrape-latency phase: one fresh process of the default service under the paced single-row
 * load for a continuous stretch, both `/metrics` ports scraped every `intervalMs`. It gives the
 * budget's p99 hundreds of scrapes of a process that runs as it does in production; the
 * interleaved windows give 40 per port (so their p99 is their second-largest), of processes
 * stopped and resumed between windows.
 */
export interface ScrapePhaseResult {
  config: string;
  rate: number;
  warmupS: number;
  durationS: number;
  intervalMs: number;
  load: LoadResult;
  scrape: ScrapeSummary | null;
  shortened: boolean;
}

/** One line of the budget. */
export interface BudgetLine {
  id: string;
  text: string;
  measured: string;
  pass: boolean | null;
  note?: string;
}

/** Everything a run produces, as written to latest.json. */
export interface BenchResults {
  version: 1;
  mode: 'main' | 'microbatch';
  quick: boolean;
  params: { rounds: number; warmupS: number; durationS: number; windowWarmupS?: number; replicas?: number; connections: number; batchSize: number; rate?: number; scrapeS?: number; soakS: number; pinned?: string };
  environment: Record<string, string | number>;
  configs: ConfigInfo[];
  workloads: WorkloadInfo[];
  baseline: string;
  runs: RunRecord[];
  summary: Aggregate[];
  soak?: SoakResult;
  scrapePhase?: ScrapePhaseResult;
  budget?: BudgetLine[];
  sink?: { requests: number; bytes: number };
  notes: string[];
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * A distribution-free confidence interval for the median of `values` (at least `level`, 0.95 by
 * default): the order statistics x(k) and x(n+1-k) with the largest k for which the chance that
 * fewer than k of n values fall below the true median, Binomial(n, 1/2), is at most (1 - level) / 2.
 * No bootstrap, so the same windows always give the same interval. Null below 6 values, where no
 * such pair reaches 95 %. It takes the values as independent: windows of one process or one
 * stretch of time are not quite, so it is a lower bound on the run's real uncertainty.
 */
export function medianInterval(values: number[], level = 0.95): [number, number] | null {
  const n = values.length;
  const s = [...values].sort((a, b) => a - b);
  const tail = (1 - level) / 2;
  // P(B <= j) for B ~ Binomial(n, 1/2), accumulated term by term.
  let term = 0.5 ** n;
  let cdf = term;
  let k = 0;
  for (let j = 0; j < n && cdf <= tail; j++) {
    k = j + 1;
    term = (term * (n - j)) / (j + 1);
    cdf += term;
  }
  return k >= 1 ? [s[k - 1]!, s[n - k]!] : null;
}

const medianOrNull = (values: (number | null)[]) => {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length ? median(v) : null;
};

/** Pools scrape samples by port. */
export function scrapeStats(samples: ScrapeSample[]): ScrapeSummary | null {
  if (samples.length === 0) return null;
  const out: ScrapeSummary = {};
  for (const port of ['api', 'scrape', 'health'] as const) {
    const all = samples.filter((s) => s.port === port);
    const ok = all.filter((s) => s.status === 200);
    if (all.length === 0) continue;
    const ms = Float64Array.from(ok.map((s) => s.ms)).sort();
    const server = Float64Array.from(ok.flatMap((s) => (s.serverMs === null ? [] : [s.serverMs]))).sort();
    out[port] = {
      n: ok.length,
      failed: all.length - ok.length,
      p50Ms: percentile(ms, 50),
      p99Ms: percentile(ms, 99),
      maxMs: ms.length ? ms[ms.length - 1]! : 0,
      serverP50Ms: server.length ? percentile(server, 50) : null,
      serverP99Ms: server.length ? percentile(server, 99) : null,
      bytes: median(ok.map((s) => s.bytes)),
    };
  }
  return out;
}

/** A window is calm when the baseline windows it is compared with ran within this factor of the baseline's best CPU per request. */
const CALM = 1.15;

/** Medians across rounds, with ratios against `baseline`. */
export function aggregate(runs: RunRecord[], configs: ConfigInfo[], workloads: WorkloadInfo[], baseline: string): Aggregate[] {
  const out: Aggregate[] = [];
  for (const w of workloads) {
    for (const c of configs) {
      const rs = runs.filter((r) => r.config === c.id && r.workload === w.id);
      if (rs.length === 0) continue;
      out.push({
        config: c.id,
        workload: w.id,
        rounds: rs.length,
        rps: median(rs.map((r) => r.load.rps)),
        rowsPerS: median(rs.map((r) => r.load.rowsPerS)),
        p50Ms: median(rs.map((r) => r.load.latencyMs.p50)),
        p99Ms: median(rs.map((r) => r.load.latencyMs.p99)),
        maxMs: median(rs.map((r) => r.load.latencyMs.max)),
        cpuUsPerRequest: medianOrNull(rs.map((r) => r.cpuUsPerRequest)),
        cpuCores: medianOrNull(rs.map((r) => r.cpuCores)),
        rssPeakMB: medianOrNull(rs.map((r) => r.rssPeakMB)),
        otherCores: medianOrNull(rs.map((r) => r.otherCores ?? null)),
        failures: rs.reduce((n, r) => n + r.load.non2xx + r.load.errors + r.load.timeouts, 0),
        scrape: scrapeStats(rs.flatMap((r) => r.scrapes)),
        ratio: { rps: null, p99: null, cpu: null },
      });
    }
  }
  for (const a of out) {
    const b = out.find((x) => x.config === baseline && x.workload === a.workload);
    if (!b) continue;
    // Paired: each window against the baseline as interpolated, linearly in window order, between
    // the baseline windows before and after it (the runner puts the baseline between every two
    // windows, so this is their mean); then the median of those ratios. The machine's speed drifts, and a
    // slow spell that starts or ends in between moves the reference by part of the jump instead
    // of all of it. Records without a sequence number pair with the baseline of the same round;
    // without any pair it falls back to the medians' ratio.
    const baseRuns = runs.filter((x) => x.config === baseline && x.workload === a.workload);
    const neighbours = (r: RunRecord): { run: RunRecord; weight: number }[] => {
      if (r.seq === undefined) return baseRuns.filter((x) => x.round === r.round).slice(0, 1).map((run) => ({ run, weight: 1 }));
      const before = baseRuns.filter((x) => x.seq !== undefined && x.seq < r.seq!).sort((x, y) => y.seq! - x.seq!)[0];
      const after = baseRuns.filter((x) => x.seq !== undefined && x.seq > r.seq!).sort((x, y) => x.seq! - y.seq!)[0];
      if (!before || !after) return [before ?? after].filter((x) => x !== undefined).map((run) => ({ run, weight: 1 }));
      const t = (r.seq! - before.seq!) / (after.seq! - before.seq!);
      return [
        { run: before, weight: 1 - t },
        { run: after, weight: t },
      ];
    };
    const pairs = runs
      .filter((r) => r.config === a.config && r.workload === a.workload)
      .flatMap((r) => {
        const bases = a.config === baseline ? [{ run: r, weight: 1 }] : neighbours(r);
        return bases.length ? [[r, bases] as const] : [];
      });
    // Each pair's ratio of `f`, over the pairs `keep` accepts.
    type Bases = (typeof pairs)[number][1];
    const ratios = (f: (r: RunRecord) => number | null, keep: (bases: Bases) => boolean = () => true): number[] =>
      pairs.flatMap(([r, bases]) => {
        if (!keep(bases)) return [];
        const x = f(r);
        const ys = bases.map((b) => f(b.run));
        const y = ys.every((q) => q !== null) ? bases.reduce((sum, b, i) => sum + b.weight * ys[i]!, 0) : null;
        return x !== null && y !== null && y > 0 ? [x / y] : [];
      });
    const medianOr = (v: number[], fallback: number | null): number | null => (v.length ? median(v) : fallback);
    const bestBase = Math.min(...baseRuns.map((x) => x.cpuUsPerRequest ?? Infinity));
    const calm = ratios(
      (r) => r.load.rps,
      (bases) => bases.every((b) => b.run.cpuUsPerRequest !== null && b.run.cpuUsPerRequest <= bestBase * CALM),
    );
    a.calm = { rps: calm.length ? median(calm) : null, windows: calm.length, of: pairs.length };
    const rpsRatios = ratios((r) => r.load.rps);
    const interval = a.config === baseline ? null : medianInterval(rpsRatios);
    a.rpsInterval = interval && { low: interval[0], high: interval[1], windows: rpsRatios.length };
    a.ratio = {
      rps: medianOr(rpsRatios, b.rps > 0 ? a.rps / b.rps : null),
      p99: medianOr(ratios((r) => r.load.latencyMs.p99), b.p99Ms > 0 ? a.p99Ms / b.p99Ms : null),
      cpu: medianOr(ratios((r) => r.cpuUsPerRequest), a.cpuUsPerRequest !== null && b.cpuUsPerRequest ? a.cpuUsPerRequest / b.cpuUsPerRequest : null),
    };
  }
  return out;
}

const f = (x: number | null | undefined, digits = 2) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits));
const int = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : Math.round(x).toLocaleString('en-US'));

/** The budget of issue 6, evaluated on one run's medians. */
export function evaluateBudget(r: Pick<BenchResults, 'summary' | 'soak' | 'quick' | 'baseline' | 'scrapePhase'>): BudgetLine[] {
  const get = (config: string, workload: string) => r.summary.find((a) => a.config === config && a.workload === workload);
  const lines: BudgetLine[] = [];
  const check = (id: string, text: string, value: number | null | undefined, ok: (v: number) => boolean, show: (v: number) => string, note?: string) =>
    lines.push({
      id,
      text,
      measured: value === null || value === undefined || !Number.isFinite(value) ? 'not measured' : show(value),
      pass: value === null || value === undefined || !Number.isFinite(value) ? null : ok(value),
      ...(note ? { note } : {}),
    });
  const def = get('default', 'single');
  const tr = get('traces', 'single');
  const nq = get('no-quality', 'single');
  // The interval and the calm-window ratio are shown beside the verdict (see Aggregate), not judged.
  const control = get('baseline-copy', 'single');
  const throughputNote = (a: Aggregate | undefined) =>
    [
      a?.rpsInterval ? `95 % interval of the median ${f(a.rpsInterval.low, 3)}-${f(a.rpsInterval.high, 3)} × over its ${a.rpsInterval.windows} windows` : undefined,
      a?.calm?.rps != null ? `${f(a.calm.rps, 3)} × over the ${a.calm.windows} of ${a.calm.of} windows with a calm machine` : undefined,
      control?.ratio.rps != null ? `the A/A control, an identical baseline server, measured ${f(control.ratio.rps, 3)} ×` : undefined,
    ]
      .filter((x) => x !== undefined)
      .join('; ') || undefined;
  check('default-throughput', 'Default service: single-row throughput ≥ 0.92 × baseline', def?.ratio.rps, (v) => v >= 0.92, (v) => `${f(v, 3)} ×`, throughputNote(def));
  check('default-p99', 'Default service: single-row p99 ≤ 1.2 × baseline', def?.ratio.p99, (v) => v <= 1.2, (v) => `${f(v, 3)} ×`);
  check(
    'quality-cost',
    'Quality metrics (issue 5): default single-row throughput ≥ 0.95 × the same service with MODEL_QUALITY_METRICS=false',
    def && nq ? (def.ratio.rps !== null && nq.ratio.rps ? def.ratio.rps / nq.ratio.rps : def.rps / nq.rps) : null,
    (v) => v >= 0.95,
    (v) => `${f(v, 3)} ×`,
  );
  check('traces-throughput', 'Traces on: single-row throughput ≥ 0.75 × baseline', tr?.ratio.rps, (v) => v >= 0.75, (v) => `${f(v, 3)} ×`, throughputNote(tr));
  // Scrapes of the default configuration, judged on the service's own time to answer (the
  // render time it reports in Server-Timing): what the client sees on this VM includes the
  // machine's own latency, which the `/health` control fetched beside it shows. The verdict is
  // on the scrape phase when it ran (hundreds of scrapes per port of one process under the paced
  // load, without interruption), else on the paced workload's windows; under a closed-loop load
  // the server is saturated and a scrape queues behind every in-flight request, so that figure
  // is only shown beside it.
  const worst = (s: ScrapeSummary | null | undefined, pick: (s: ScrapeStats) => number | null) =>
    s ? Math.max(...(['api', 'scrape'] as const).map((p) => (s[p] ? (pick(s[p]!) ?? Infinity) : 0))) : null;
  const server = (s: ScrapeStats) => s.serverP99Ms;
  const client = (s: ScrapeStats) => s.p99Ms;
  const paced = get('default', 'paced');
  const saturated = r.summary.filter((a) => a.config === 'default' && a.workload !== 'paced' && a.scrape);
  const phase = r.scrapePhase?.scrape ? r.scrapePhase : undefined;
  const judged = phase?.scrape ?? (paced ?? saturated[0])?.scrape;
  const count = (s: ScrapeSummary) => Math.min(s.api?.n ?? 0, s.scrape?.n ?? 0);
  const notes = [
    judged ? `as the client saw it: p99 ${f(worst(judged, client), 1)} ms, while \`/health\` on the same connection had p99 ${f(judged.health?.p99Ms, 1)} ms` : undefined,
    phase && paced?.scrape
      ? `in the interleaved paced windows (${count(paced.scrape)} scrapes per port): render p99 ${f(worst(paced.scrape, server), 2)} ms`
      : undefined,
    (phase || paced) && saturated.length
      ? `saturated closed-loop load: render p99 ${f(Math.max(...saturated.map((a) => worst(a.scrape, server)!)), 2)} ms, client p99 ${f(Math.max(...saturated.map((a) => worst(a.scrape, client)!)), 1)} ms`
      : undefined,
    phase?.shortened ? 'scrape phase shortened by --quick/--scrape: not evidence' : undefined,
  ].filter((x) => x !== undefined);
  const where = phase
    ? `${count(phase.scrape!)} scrapes per port over ${phase.durationS} s of single-row load paced at ${phase.rate} req/s, one process`
    : paced
      ? 'paced single-row load'
      : 'closed-loop load';
  check(
    'scrape-p99',
    `\`/metrics\` scrape under load: p99 < 5 ms (default service, both ports, ${where}; the service's render time, from Server-Timing)`,
    judged ? worst(judged, server) : null,
    (v) => v < 5,
    (v) => `${f(v, 2)} ms`,
    notes.length ? notes.join('; ') : undefined,
  );
  const batch = get('default', 'batch');
  check(
    'batch-rows',
    'Batch path: rows/s ≥ 10 × single-row rows/s (default service)',
    batch && def ? batch.rowsPerS / def.rowsPerS : null,
    (v) => v >= 10,
    (v) => `${f(v, 1)} ×`,
  );
  const soak = r.soak;
  check(
    'soak-rss',
    `Soak at the default configuration: RSS at the end within 10% of after warm-up`,
    soak && soak.config === 'default' ? soak.ratio - 1 : null,
    (v) => Math.abs(v) <= 0.1,
    (v) => `${v >= 0 ? '+' : ''}${f(v * 100, 1)} % (${f(soak!.rssAfterWarmupMB, 1)} → ${f(soak!.rssEndMB, 1)} MB over ${soak!.durationS} s)`,
    soak?.shortened ? `shortened to ${soak.durationS} s by --quick/--soak: not evidence` : undefined,
  );
  return lines;
}

const verdict = (b: BudgetLine) => (b.pass === null ? 'n/a' : b.pass ? 'PASS' : 'FAIL');

/** The console table. */
export function formatTable(r: BenchResults): string {
  const label = (id: string) => r.configs.find((c) => c.id === id)?.label ?? id;
  const head = ['workload', 'configuration', 'req/s', 'rows/s', 'p50 ms', 'p99 ms', 'max ms', 'CPU µs/req', 'peak RSS MB', 'scrape p99 ms', 'rps ×', 'p99 ×'];
  const rows = r.summary.map((a) => [
    a.workload,
    label(a.config),
    int(a.rps),
    int(a.rowsPerS),
    f(a.p50Ms),
    f(a.p99Ms),
    f(a.maxMs),
    int(a.cpuUsPerRequest),
    f(a.rssPeakMB, 0),
    a.scrape ? `${f(a.scrape.api?.p99Ms)}/${f(a.scrape.scrape?.p99Ms)} (render ${f(a.scrape.api?.serverP99Ms)}/${f(a.scrape.scrape?.serverP99Ms)})` : '—',
    f(a.ratio.rps, 3),
    f(a.ratio.p99, 3),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  if (r.budget) {
    out.push('', 'budget:');
    for (const b of r.budget) out.push(`  ${verdict(b).padEnd(4)}  ${b.text}: ${b.measured}${b.note ? ` (${b.note})` : ''}`);
  }
  return out.join('\n');
}

/** The markdown summary. */
export function formatMarkdown(r: BenchResults): string {
  const label = (id: string) => r.configs.find((c) => c.id === id)?.label ?? id;
  const p = r.params;
  const md: string[] = [];
  md.push(r.mode === 'main' ? '# Benchmark summary' : '# Micro-batching experiment', '');
  md.push(
    `${r.environment.date} · Node ${r.environment.node} · ${r.environment.cpu} × ${r.environment.cores} cores · ` +
      `${r.workloads.map((w) => `${w.rounds ?? p.rounds} round(s) of ${w.id}`).join(', ')} interleaved with the baseline · warm-up ≥ ${p.warmupS} s until CPU per request is stable, then ${p.durationS} s windows${p.windowWarmupS ? `, each after ${p.windowWarmupS} s of unmeasured load` : ''}${p.replicas && p.replicas > 1 ? ` · ${p.replicas} processes per configuration, taking the rounds in turn` : ''} · ` +
      `autocannon in a separate process${r.quick ? ' · **--quick: a smoke run, numbers are not evidence**' : ''}`,
    '',
  );
  md.push('Medians across windows; ratios are against the baseline (same workload): each window against the baseline interpolated between the baseline windows before and after it. Latency is measured by the client; CPU is the server process\'s user + system time per request (CPU cores: per wall second); other load is the CPU that anything but the server and the load generator used meanwhile (a noise indicator: it should be near 0); peak RSS is the largest sampled during the load; scrape is the p99 of `/metrics` on the API port / the scrape port during the load (once per second; five times per second under the paced load, for enough samples), as the client saw it and as the server rendered it (its Server-Timing header), beside `/health` fetched the same way as a control for the machine\'s own latency. Calm windows: those whose baseline references ran within 15 % of the baseline\'s best CPU time per request (this VM has slow spells). The budget\'s throughput lines also give a 95 % interval of the median of their per-window ratios (from order statistics, taking the windows as independent, so a lower bound on the run\'s uncertainty): a verdict whose interval straddles its line could have gone the other way in another run.', '');
  for (const w of r.workloads) {
    md.push(`## ${w.label}`, '');
    md.push('| configuration | req/s | rows/s | p50 ms | p99 ms | max ms | CPU µs/req | CPU cores | peak RSS MB | scrape p99 ms, client (api / :9464 / control /health) | scrape p99 ms, render (api / :9464) | scrape size KB | throughput × | throughput ×, calm windows | p99 × | CPU × | other load (cores) |');
    md.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
    for (const a of r.summary.filter((x) => x.workload === w.id)) {
      const s = a.scrape;
      md.push(
        `| ${label(a.config)} | ${int(a.rps)} | ${int(a.rowsPerS)} | ${f(a.p50Ms)} | ${f(a.p99Ms)} | ${f(a.maxMs)} | ${int(a.cpuUsPerRequest)} | ${f(a.cpuCores)} | ${f(a.rssPeakMB, 0)} | ` +
          `${s ? `${f(s.api?.p99Ms)} / ${f(s.scrape?.p99Ms)} / ${f(s.health?.p99Ms)}` : '—'} | ${s ? `${f(s.api?.serverP99Ms)} / ${f(s.scrape?.serverP99Ms)}` : '—'} | ${s ? f((s.api?.bytes ?? 0) / 1024, 1) : '—'} | ${f(a.ratio.rps, 3)} | ${a.calm && a.config !== r.baseline ? `${f(a.calm.rps, 3)} (${a.calm.windows}/${a.calm.of})` : '—'} | ${f(a.ratio.p99, 3)} | ${f(a.ratio.cpu, 3)} | ${f(a.otherCores)} |` +
          (a.failures ? ` ⚠ ${a.failures} failed` : ''),
      );
    }
    md.push('');
  }
  if (r.budget) {
    md.push('## Budget', '');
    md.push('| budget line | measured | verdict |', '|---|---|---|');
    for (const b of r.budget) md.push(`| ${b.text} | ${b.measured}${b.note ? ` (${b.note})` : ''} | **${verdict(b)}** |`);
    md.push('');
  }
  if (r.soak) {
    const s = r.soak;
    md.push('## Soak', '');
    md.push(
      `${label(s.config)}, single-row load for ${s.durationS} s after ${s.warmupS} s of warm-up, scraped once per second: ` +
        `RSS ${f(s.rssAfterWarmupMB, 1)} MB after warm-up, ${f(s.rssEndMB, 1)} MB at the end (${f((s.ratio - 1) * 100, 1)} %); ` +
        `${int(s.load.rps)} req/s, p99 ${f(s.load.latencyMs.p99)} ms` +
        (s.scrape
          ? `, scrape p99 ${f(s.scrape.api?.p99Ms)} / ${f(s.scrape.scrape?.p99Ms)} ms at the client, ${f(s.scrape.api?.serverP99Ms)} / ${f(s.scrape.scrape?.serverP99Ms)} ms render`
          : '') +
        (s.shortened ? '. **Shortened: not evidence.**' : '.'),
      '',
    );
    md.push(`RSS (MB) over time: ${s.samples.map((x) => `${x.t}s ${f(x.rssMB, 0)}`).join(', ')}`, '');
  }
  if (r.scrapePhase) {
    const p = r.scrapePhase;
    const stat = (port: 'api' | 'scrape') => {
      const x = p.scrape?.[port];
      return x ? `${x.n} scrapes, render p50 ${f(x.serverP50Ms, 2)} / p99 ${f(x.serverP99Ms, 2)} ms, client p50 ${f(x.p50Ms, 2)} / p99 ${f(x.p99Ms, 2)} / max ${f(x.maxMs, 1)} ms` : 'no scrapes';
    };
    md.push('## Scrape latency', '');
    md.push(
      `${label(p.config)}, one fresh process, single-row load paced at ${p.rate} req/s for ${p.durationS} s after ${p.warmupS} s of warm-up, both ports scraped every ${p.intervalMs} ms (${int(p.load.rps)} req/s, p99 ${f(p.load.latencyMs.p99)} ms):`,
      '',
      `- API port \`/metrics\`: ${stat('api')}`,
      `- scrape port \`:9464/metrics\`: ${stat('scrape')}`,
      `- control, \`/health\` on the same connection: client p99 ${f(p.scrape?.health?.p99Ms, 2)} ms`,
      '',
    );
    if (p.shortened) md.push('**Shortened: not evidence.**', '');
  }
  if (r.notes.length) {
    md.push('## Notes', '');
    for (const n of r.notes) md.push(`- ${n}`);
    md.push('');
  }
  return md.join('\n');
}

const COLORS = ['#6b7280', '#2563eb', '#059669', '#d97706', '#7c3aed', '#dc2626'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A bar chart per workload of throughput and p99, one bar per configuration. */
export function formatSvg(r: BenchResults): string {
  const panels: { title: string; unit: string; values: { config: string; value: number }[] }[] = [];
  for (const w of r.workloads) {
    const aggs = r.summary.filter((a) => a.workload === w.id);
    const perRow = w.rowsPerRequest === 1;
    if (!w.rate)
      panels.push({
      title: `${w.label}: ${perRow ? 'requests/s' : 'rows/s'}`,
      unit: perRow ? 'req/s' : 'rows/s',
      values: aggs.map((a) => ({ config: a.config, value: perRow ? a.rps : a.rowsPerS })),
    });
    panels.push({ title: `${w.label}: p99 latency`, unit: 'ms', values: aggs.map((a) => ({ config: a.config, value: a.p99Ms })) });
  }
  const pw = 460;
  const ph = 260;
  const cols = 2;
  const legendH = 24 + 18 * r.configs.length;
  const width = pw * cols;
  const height = Math.ceil(panels.length / cols) * ph + legendH + 30;
  const color = (id: string) => COLORS[Math.max(0, r.configs.findIndex((c) => c.id === id)) % COLORS.length]!;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="10" y="20" font-size="14" font-weight="bold">${esc(r.mode === 'main' ? 'Telemetry overhead benchmark' : 'Micro-batching experiment')} (medians of ${r.params.rounds} round(s)${r.quick ? ', quick smoke run' : ''})</text>`);
  panels.forEach((panel, i) => {
    const x0 = (i % cols) * pw;
    const y0 = 30 + Math.floor(i / cols) * ph;
    const left = x0 + 50;
    const top = y0 + 30;
    const plotW = pw - 70;
    const plotH = ph - 60;
    const max = Math.max(...panel.values.map((v) => v.value), 0) || 1;
    out.push(`<g class="panel">`);
    out.push(`<text x="${x0 + 10}" y="${y0 + 16}" font-size="12" font-weight="bold">${esc(panel.title)}</text>`);
    out.push(`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#999"/>`);
    out.push(`<text x="${left - 4}" y="${top + 4}" text-anchor="end" fill="#666">${esc(fmtAxis(max))}</text>`);
    out.push(`<text x="${left - 4}" y="${top + plotH}" text-anchor="end" fill="#666">0</text>`);
    const slot = plotW / Math.max(1, panel.values.length);
    panel.values.forEach((v, j) => {
      const h = (v.value / max) * plotH;
      const bx = left + j * slot + slot * 0.15;
      const bw = slot * 0.7;
      out.push(
        `<rect class="bar" data-config="${esc(v.config)}" x="${bx.toFixed(1)}" y="${(top + plotH - h).toFixed(1)}" width="${bw.toFixed(1)}" height="${h.toFixed(1)}" fill="${color(v.config)}"><title>${esc(v.config)}: ${esc(fmtAxis(v.value))} ${esc(panel.unit)}</title></rect>`,
      );
      out.push(`<text x="${(bx + bw / 2).toFixed(1)}" y="${(top + plotH - h - 3).toFixed(1)}" text-anchor="middle">${esc(fmtAxis(v.value))}</text>`);
      out.push(`<text x="${(bx + bw / 2).toFixed(1)}" y="${top + plotH + 14}" text-anchor="middle" fill="#333">${esc(v.config)}</text>`);
    });
    out.push(`</g>`);
  });
  const ly = 30 + Math.ceil(panels.length / cols) * ph + 10;
  r.configs.forEach((c, i) => {
    out.push(`<rect x="10" y="${ly + i * 18}" width="12" height="12" fill="${color(c.id)}"/>`);
    out.push(`<text x="28" y="${ly + i * 18 + 10}">${esc(`${c.id}: ${c.label}`)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function fmtAxis(v: number): string {
  if (v >= 1000) return Math.round(v).toLocaleString('en-US');
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}
