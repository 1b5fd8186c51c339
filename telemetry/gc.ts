/**
 * GC pause durations, `v8js.gc.duration` by `v8js.gc.type`: the histogram of
 * `@opentelemetry/instrumentation-runtime-node`'s GCCollector (same name, unit, description,
 * buckets and attribute values), aggregated in native memory by V8's GC callbacks
 * (`telemetry/native/gc_stats.cc`) and exported as a pre-aggregated histogram.
 *
 * Why not upstream's collector: it observes Node's `PerformanceObserver('gc')`, and Node 24 builds
 * every GC entry with four deprecated accessors (DEP0152), each a `util.deprecate()` wrapper
 * given a prototype of its own. The maps V8 makes for them live in old space: about 4.3 KB of
 * old-space garbage per GC, even for an observer that does nothing. Under load (tens of
 * scavenges a second) that grew the service's RSS by 11 % in a minute, against 3 % without it
 * (docs/benchmark.md, session 16). The addon costs a GC two clock reads and a few additions and
 * allocates nothing in the JavaScript heap.
 *
 * The addon is built by `npm ci` (scripts/build-native.ts). Where it is missing or was built for
 * another Node.js, {@link loadGcStats} says why and the runtime instrumentation keeps upstream's
 * collector: the same metric, at the cost above.
 */
import { loadAddon, type AddonResult } from './addon.ts';
import type { PreaggregatedHistogram, PreaggregatedMetrics } from './preaggregated.ts';
import type { Collector } from './runtime.ts';

/** The addon's interface (see the layout comment in gc_stats.cc). */
export interface GcStatsAddon {
  /** Starts timing GCs into `rows`: per kind, `[count, sum, min, max, ...bounds.length + 1 bucket counts]`. */
  start(bounds: Float64Array): { rows: Float64Array; stop(): void };
  /** How many kinds, in the order of {@link GC_KINDS}. */
  readonly kinds: number;
}

/** Where `npm ci` builds the addon. */
export const GC_STATS_ADDON = new URL('./native/build/Release/gc_stats.node', import.meta.url);

/** The `v8js.gc.type` values, in the addon's row order (Node's perf_hooks kinds, as upstream names them). */
export const GC_KINDS = ['major', 'minor', 'incremental', 'weakcb'] as const;

/** Upstream's GCCollector instrument, so that the metric is the same whichever records it. */
export const GC_DURATION = {
  name: 'v8js.gc.duration',
  unit: 's',
  description: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
} as const;

/** The addon at `file` (default: the one `npm ci` builds), or why it could not be loaded. Loaded once per process. */
export function loadGcStats(file: URL = GC_STATS_ADDON): AddonResult<GcStatsAddon> {
  return loadAddon<GcStatsAddon>(file, (addon) =>
    addon.kinds === GC_KINDS.length ? undefined : `the addon reports ${addon.kinds} GC kinds, expected ${GC_KINDS.length}`,
  );
}

/** Adds `from` (a stopped recorder's rows) into `into`, kind by kind: counts and sums add, extremes combine. */
function accumulate(into: Float64Array, from: Float64Array, width: number): void {
  for (let off = 0; off < into.length; off += width) {
    into[off + 2] = Math.min(into[off + 2]!, from[off + 2]!);
    into[off + 3] = Math.max(into[off + 3]!, from[off + 3]!);
    into[off] = into[off]! + from[off]!;
    into[off + 1] = into[off + 1]! + from[off + 1]!;
    for (let i = off + 4; i < off + width; i++) into[i] = into[i]! + from[i]!;
  }
}

/**
 * A runtime-node collector that records {@link GC_DURATION} from the addon into `registry`. The
 * native counts are copied into the histogram's series when a reader collects, a series per kind
 * from that kind's first GC (as upstream's histogram has). Disabled, it stops timing and its
 * series keep their values; enabled again, it goes on from them (a cumulative histogram never
 * goes back).
 */
export class NativeGcCollector implements Collector {
  private readonly histogram: PreaggregatedHistogram;
  private readonly series: ({ load(snapshot: Float64Array): void } | undefined)[] = [];
  private readonly bounds = Float64Array.from(GC_DURATION.buckets);
  /** Doubles per kind: count, sum, min, max and the buckets. */
  private readonly width = 4 + GC_DURATION.buckets.length + 1;
  /** What recorders stopped by {@link disable} counted, and the sum of that and the running one's. */
  private readonly earlier: Float64Array;
  private readonly total: Float64Array;
  private recorder: { rows: Float64Array; stop(): void } | undefined;
  private readonly addon: GcStatsAddon;

  constructor(addon: GcStatsAddon, registry: PreaggregatedMetrics) {
    this.addon = addon;
    this.histogram = registry.histogram(GC_DURATION);
    this.earlier = new Float64Array(GC_KINDS.length * this.width);
    for (let off = 0; off < this.earlier.length; off += this.width) this.earlier.set([0, 0, Infinity, -Infinity], off);
    this.total = new Float64Array(this.earlier.length);
    registry.onCollect(() => this.sync());
  }

  /** Its instrument is pre-aggregated (made in the constructor), not on runtime-node's meter. */
  updateMetricInstruments(): void {}

  enable(): void {
    this.recorder ??= this.addon.start(this.bounds);
  }

  disable(): void {
    if (!this.recorder) return;
    this.recorder.stop();
    accumulate(this.earlier, this.recorder.rows, this.width);
    this.recorder = undefined;
  }

  private sync(): void {
    this.total.set(this.earlier);
    if (this.recorder) accumulate(this.total, this.recorder.rows, this.width);
    for (let k = 0; k < GC_KINDS.length; k++) {
      const row = this.total.subarray(k * this.width, (k + 1) * this.width);
      if (row[0] === 0) continue;
      (this.series[k] ??= this.histogram.bind({ 'v8js.gc.type': GC_KINDS[k] })).load(row);
    }
  }
}
