/**
 * Node.js runtime metrics (event loop, GC, heap): `@opentelemetry/instrumentation-runtime-node`,
 * with two of its collectors swapped for cheaper ones: event-loop delay (below) and GC durations
 * (`telemetry/gc.ts`).
 *
 * Why: every collection (each scrape, on each port) makes the upstream event-loop-delay
 * collector read `stddev` from Node's event-loop-delay histogram, which walks the whole
 * HdrHistogram with a `pow()` per bucket. Measured on Node 24: 0.21 ms per read, against
 * 1-27 µs for min, max, mean and each percentile: 80 % of that collector's cost and about 40 %
 * of a whole scrape's render time. No dashboard or alert reads the standard deviation, so the
 * replacement exports the same gauges (same names, units and descriptions) without it.
 */
import type { Meter, ObservableGauge } from '@opentelemetry/api';
import { diag } from '@opentelemetry/api';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import type { RuntimeNodeInstrumentationConfig } from '@opentelemetry/instrumentation-runtime-node';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadGcStats, NativeGcCollector } from './gc.ts';
import type { PreaggregatedMetrics } from './preaggregated.ts';

type IntervalHistogram = ReturnType<typeof monitorEventLoopDelay>;

/** What the upstream instrumentation expects of each of its collectors. */
export interface Collector {
  updateMetricInstruments(meter: Meter): void;
  enable(): void;
  disable(): void;
}

/** The upstream collectors this module replaces (their class names in the pinned version). */
const REPLACED = 'EventLoopDelayCollector';
const GC_REPLACED = 'GCCollector';

/** Event loop delay gauges: min, max, mean and percentiles since the previous collection. */
export class EventLoopDelayCollector implements Collector {
  private readonly histogram: IntervalHistogram;
  private enabled = false;

  /** `resolutionMs`: how often the delay is sampled, as upstream's `monitoringPrecision`. */
  constructor(resolutionMs = 10) {
    this.histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  }

  updateMetricInstruments(meter: Meter): void {
    const gauge = (name: string, description: string) => meter.createObservableGauge(`nodejs.eventloop.delay.${name}`, { description, unit: 's' });
    const readings: [ObservableGauge, (h: IntervalHistogram) => number][] = [
      [gauge('min', 'Event loop minimum delay.'), (h) => h.min],
      [gauge('max', 'Event loop maximum delay.'), (h) => h.max],
      [gauge('mean', 'Event loop mean delay.'), (h) => h.mean],
      [gauge('p50', 'Event loop 50 percentile delay.'), (h) => h.percentile(50)],
      [gauge('p90', 'Event loop 90 percentile delay.'), (h) => h.percentile(90)],
      [gauge('p99', 'Event loop 99 percentile delay.'), (h) => h.percentile(99)],
    ];
    meter.addBatchObservableCallback(
      (result) => {
        const h = this.histogram;
        // As upstream: too few samples say nothing; each collection starts a new window.
        if (!this.enabled || h.count < 5) return;
        for (const [instrument, read] of readings) {
          const ns = read(h);
          result.observe(instrument, Number.isNaN(ns) ? 0 : ns / 1e9);
        }
        h.reset();
      },
      readings.map(([instrument]) => instrument),
    );
  }

  enable(): void {
    this.enabled = true;
    this.histogram.enable();
  }

  disable(): void {
    this.enabled = false;
    this.histogram.disable();
  }
}

/** Options for {@link RuntimeInstrumentation}: upstream's, and where the GC histogram goes. */
export interface RuntimeInstrumentationConfig extends RuntimeNodeInstrumentationConfig {
  /**
   * The registry the native GC collector records `v8js.gc.duration` into (`telemetry/gc.ts`).
   * Without it, or without the addon, upstream's GCCollector records the same histogram from
   * Node's PerformanceObserver.
   */
  preaggregated?: PreaggregatedMetrics;
}

/**
 * `RuntimeNodeInstrumentation` with {@link EventLoopDelayCollector} in place of upstream's, and,
 * given a registry and the addon, {@link NativeGcCollector} in place of upstream's GCCollector.
 */
export class RuntimeInstrumentation extends RuntimeNodeInstrumentation {
  /** What records `v8js.gc.duration`: the addon, or upstream's collector (the reason goes to `diag`). */
  readonly gcDurations: 'native' | 'performance_observer';

  constructor(config: RuntimeInstrumentationConfig = {}) {
    const { preaggregated, ...upstream } = config;
    super(upstream);
    // The collector list is private upstream; the swaps are checked by test/runtime.test.ts and
    // test/gc.test.ts against the pinned version, and keep upstream's collector if they fail.
    const collectors = (this as unknown as { _collectors?: Collector[] })._collectors;
    if (!this.replaceCollector(collectors, REPLACED, () => new EventLoopDelayCollector(this.getConfig().monitoringPrecision ?? 10))) {
      diag.warn(`runtime metrics: no ${REPLACED} found to replace; keeping upstream's`);
    }
    this.gcDurations = this.swapGcCollector(collectors, preaggregated) ? 'native' : 'performance_observer';
  }

  /**
   * Puts `make()`'s collector in the place of upstream's collector class `name`, started if
   * upstream's would be. False when there is no such collector.
   */
  private replaceCollector(collectors: Collector[] | undefined, name: string, make: () => Collector): boolean {
    const at = collectors?.findIndex((c) => c.constructor.name === name) ?? -1;
    if (!collectors || at < 0) return false;
    // Upstream's constructor already started it (a histogram, an observer). Not its disable():
    // that clears the `enabled` flag of the config object every upstream collector shares.
    (collectors[at] as Partial<{ internalDisable(): void }>).internalDisable?.();
    const replacement = make();
    if (this.getConfig().enabled !== false) replacement.enable();
    collectors[at] = replacement;
    return true;
  }

  /** Whether the native GC collector took upstream's place. */
  private swapGcCollector(collectors: Collector[] | undefined, registry: PreaggregatedMetrics | undefined): boolean {
    // Without a registry to record into (a bare instrumentation, as in tests), upstream's stays.
    if (!registry) return false;
    const gc = loadGcStats();
    if ('error' in gc) {
      diag.warn(`runtime metrics: the GC statistics addon did not load (${gc.error}); v8js.gc.duration comes from Node's PerformanceObserver`);
      return false;
    }
    // A disconnected observer makes Node build no GC entries.
    if (this.replaceCollector(collectors, GC_REPLACED, () => new NativeGcCollector(gc.addon, registry))) return true;
    diag.warn(`runtime metrics: no ${GC_REPLACED} found to replace; keeping upstream's`);
    return false;
  }
}
