import { describe, expect, it } from 'vitest';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusPullExporter, prometheusRenderer } from '../telemetry/sdk.ts';
import { EventLoopDelayCollector, RuntimeInstrumentation } from '../telemetry/runtime.ts';
import { RUNTIME_METRICS } from '../telemetry/instruments.ts';
import { parseExposition, sampleValue } from './helpers/exposition.ts';

/** Blocks the event loop for `ms`, so the delay histogram has something to show. */
function block(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('runtime metrics (runtime-node with the lean event-loop-delay collector)', () => {
  it('swaps upstream event-loop-delay collector for the lean one, and keeps every other collector working', async () => {
    const exporter = new PrometheusPullExporter({ preventServerStart: true, withoutScopeInfo: true });
    const provider = new MeterProvider({ readers: [exporter] });
    const runtime = new RuntimeInstrumentation({ monitoringPrecision: 5 });
    runtime.setMeterProvider(provider);
    runtime.enable();
    try {
      const collectors = (runtime as unknown as { _collectors: object[] })._collectors;
      expect(collectors.filter((c) => c instanceof EventLoopDelayCollector)).toHaveLength(1);
      expect(collectors.filter((c) => c.constructor.name === 'EventLoopDelayCollector' && !(c instanceof EventLoopDelayCollector))).toHaveLength(0);

      await new Promise((r) => setTimeout(r, 100));
      block(40);
      // Garbage enough for a few scavenges, so the GC histogram has entries.
      let keep: number[][] = [];
      for (let i = 0; i < 200_000; i++) keep = i % 1000 === 0 ? [] : [...keep.slice(-10), [i]];
      expect(keep.length).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 50));
      const samples = parseExposition(await prometheusRenderer(exporter)());
      const names = new Set(samples.map((s) => s.name));
      // Every runtime-node metric the dashboards may use is still there (the shared config's
      // `enabled` flag was not cleared by the swap)...
      for (const m of RUNTIME_METRICS.filter((m) => m.source === '@opentelemetry/instrumentation-runtime-node')) {
        expect(names, m.name).toContain(m.type === 'histogram' ? `${m.name}_count` : m.name);
      }
      expect(names).toContain('nodejs_eventloop_delay_min');
      // ...except the one that cost 0.2 ms per collection.
      expect(names).not.toContain('nodejs_eventloop_delay_stddev');
      // The 40 ms block shows as the window's maximum delay, in seconds.
      const max = sampleValue(samples, 'nodejs_eventloop_delay_max', {})!;
      expect(max).toBeGreaterThan(0.03);
      expect(max).toBeLessThan(1);
      const [p50, p99] = [sampleValue(samples, 'nodejs_eventloop_delay_p50', {})!, sampleValue(samples, 'nodejs_eventloop_delay_p99', {})!];
      expect(p50).toBeGreaterThan(0);
      expect(p99).toBeGreaterThanOrEqual(p50);
      expect(max).toBeGreaterThanOrEqual(p99);

      // Each collection starts a new window: right after one, too few samples to report.
      const again = new Set(parseExposition(await prometheusRenderer(exporter)()).map((s) => s.name));
      expect(again).not.toContain('nodejs_eventloop_delay_max');
    } finally {
      runtime.disable();
      await provider.shutdown();
    }
  });
});
