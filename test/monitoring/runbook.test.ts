/** docs/runbook.md: one complete section per alert, and a summary table that matches the rules. */
import { describe, expect, it } from 'vitest';
import { buildRules } from '../../infra/prometheus/rules.ts';
import { repoText } from '../helpers/monitoring.ts';

const alerts = buildRules().alerts.flatMap((g) => g.rules);
const runbook = repoText('docs/runbook.md');

/** The text of the `## name` section, up to the next `## `. */
function section(name: string): string | undefined {
  const start = runbook.indexOf(`\n## ${name}\n`);
  if (start < 0) return undefined;
  const next = runbook.indexOf('\n## ', start + 4);
  return runbook.slice(start, next < 0 ? undefined : next);
}

describe('runbook', () => {
  it.each(alerts.map((a) => a.alert))('has a section for %s: what it means, how to check, what to do', (name) => {
    const text = section(name);
    expect(text, `no "## ${name}" section`).toBeDefined();
    const subsections = [...text!.matchAll(/^### (.+)$/gm)].map((m) => m[1]);
    expect(subsections).toEqual(['What it means', 'How to check', 'What to do']);
    for (const part of text!.split(/^### .+$/m).slice(1)) expect(part.trim().length).toBeGreaterThan(40);
  });

  it('has no section for an alert that does not exist', () => {
    const names = new Set(alerts.map((a) => a.alert));
    for (const m of runbook.matchAll(/^## (\S+)$/gm)) expect(names.has(m[1]!), m[1]).toBe(true);
  });

  it('lists every alert with its severity and for: as the rules define them', () => {
    const rows = new Map(
      [...runbook.matchAll(/^\| (\w+) \| (\w+) \| .+ \| (\w+) \|$/gm)].map((m) => [m[1]!, { severity: m[2], for: m[3] }]),
    );
    for (const a of alerts) expect(rows.get(a.alert), a.alert).toEqual({ severity: a.labels.severity, for: a.for });
    expect(rows.size - (rows.has('Alert') ? 1 : 0)).toBe(alerts.length);
  });
});
