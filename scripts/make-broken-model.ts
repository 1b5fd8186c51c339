/**
 * Writes models/breast-cancer-v1.0.1-broken.onnx and its card: a deliberately broken release
 * (same inputs and outputs as v1.0.0, every score exactly 0.0) for the silent-failure drills and
 * demos. Its card is v1.0.0's with the version, description and artifact changed, as a careless
 * release would look. Never the default model.
 *
 * Usage: node scripts/make-broken-model.ts [--from models/breast-cancer-v1.0.0.card.json] [--out models]
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ModelCard } from '../src/model/card.ts';
import { buildConstantOnnx } from './train/onnx.ts';

const { values: args } = parseArgs({
  options: {
    from: { type: 'string', default: 'models/breast-cancer-v1.0.0.card.json' },
    out: { type: 'string', default: 'models' },
    version: { type: 'string', default: '1.0.1-broken' },
  },
});

const base = JSON.parse(readFileSync(args.from!, 'utf8')) as ModelCard;
const bytes = buildConstantOnnx(base.input.features.length, 0, {
  docString: 'DELIBERATELY BROKEN: scores every row 0.0. For drills and demos only.',
  metadata: { name: base.name, version: args.version!, broken: 'constant-0' },
});
const file = `${base.name}-v${args.version}.onnx`;
const card: ModelCard = {
  ...base,
  version: args.version!,
  description: `DELIBERATELY BROKEN release of ${base.name} for drills: every score is 0.0 (a silent failure). Do not serve for real.`,
  artifact: { file, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length },
};
writeFileSync(join(args.out!, file), bytes);
writeFileSync(join(args.out!, `${base.name}-v${args.version}.card.json`), `${JSON.stringify(card, null, 2)}\n`);
console.log(`wrote ${join(args.out!, file)} (every score 0.0)`);
