/**
 * Writes the generated monitoring files (rule YAML, dashboard JSON) from infra/*.ts.
 * `--check` writes nothing and exits 1 when a committed file differs from what would be generated.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateMonitoring } from '../infra/generate.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
let stale = 0;
for (const [rel, content] of Object.entries(generateMonitoring())) {
  const path = join(root, rel);
  const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  if (current === content) continue;
  if (check) {
    console.error(`gen-monitoring: ${rel} is out of date`);
    stale++;
    continue;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  console.log(`gen-monitoring: wrote ${rel}`);
}
if (stale > 0) {
  console.error('gen-monitoring: run `npm run gen:monitoring` and commit the result');
  process.exit(1);
}
