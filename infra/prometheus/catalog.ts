/**
 * Every series the rules and dashboards may query, with the labels each carries: the service's
 * instruments and runtime metrics (telemetry/instruments.ts), the recording rules, and the few
 * series Prometheus itself writes. The tests reject any query outside this catalog, so a renamed
 * metric or label fails the build instead of silently emptying a panel or an alert.
 */
import { INSTRUMENTS, RUNTIME_METRICS, seriesNames } from '../../telemetry/instruments.ts';
import { buildRules } from './rules.ts';

/** Series Prometheus writes or the exporter adds, which no instrument defines. */
export const PROMETHEUS_METRICS = [
  // Written by Prometheus for every scrape.
  { name: 'up', labels: [] },
  { name: 'scrape_duration_seconds', labels: [] },
  { name: 'scrape_samples_scraped', labels: [] },
  // The OpenTelemetry exporter's resource attributes; one series per target.
  { name: 'target_info', labels: [] },
  // Prometheus's own health, scraped by the `prometheus` job.
  { name: 'prometheus_rule_evaluation_failures_total', labels: ['rule_group'] },
  { name: 'prometheus_notifications_errors_total', labels: ['alertmanager'] },
  { name: 'prometheus_notifications_sent_total', labels: ['alertmanager'] },
] as const;

/** Labels every scraped series carries (Prometheus adds them). */
export const TARGET_LABELS = ['job', 'instance'] as const;

/** Series name → labels it may be selected or grouped by. */
export function seriesCatalog(): Map<string, ReadonlySet<string>> {
  const catalog = new Map<string, ReadonlySet<string>>();
  const add = (name: string, labels: readonly string[]) => catalog.set(name, new Set([...TARGET_LABELS, ...labels]));
  for (const spec of Object.values(INSTRUMENTS)) {
    for (const name of seriesNames(spec)) add(name, name.endsWith('_bucket') ? [...spec.labels, 'le'] : spec.labels);
  }
  for (const m of RUNTIME_METRICS) {
    if (m.type === 'histogram') {
      add(`${m.name}_bucket`, [...m.labels, 'le']);
      add(`${m.name}_sum`, m.labels);
      add(`${m.name}_count`, m.labels);
    } else {
      add(m.name, m.labels);
    }
  }
  for (const m of PROMETHEUS_METRICS) add(m.name, m.labels);
  const rules = buildRules();
  for (const r of rules.recording.flatMap((g) => g.rules)) catalog.set(r.record, new Set(r.outputLabels));
  return catalog;
}
