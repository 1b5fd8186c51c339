/**
 * The model card: what a model is, what it expects and how it was trained. The service reads
 * its version and feature order from here (onnxruntime-node exposes no ONNX metadata), and the
 * drift metrics compare live inputs with its baselines.
 */
import { readFile } from 'node:fs/promises';

/** The distribution of one feature (or the score) in the training data. */
export interface Baseline {
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly std: number;
  /** The nine inner decile cut points (10%..90%). */
  readonly deciles: readonly number[];
  /**
   * The share of training rows in each of the ten bins the deciles cut (see `binIndex`): about
   * 0.1 each, less even where values tie (many zeros, say). The expected side of PSI.
   */
  readonly bin_shares: readonly number[];
}

/** The JSON document written by `npm run train` next to the ONNX file. */
export interface ModelCard {
  readonly schema_version: 1;
  readonly name: string;
  readonly version: string;
  readonly description: string;
  readonly task: 'binary-classification';
  readonly input: { readonly name: string; readonly dtype: 'float32'; readonly features: readonly string[] };
  readonly output: {
    readonly name: string;
    readonly positive_label: string;
    readonly negative_label: string;
    readonly threshold: number;
  };
  readonly training: {
    readonly data: { readonly file: string; readonly sha256: string; readonly rows: number; readonly positives: number };
    readonly split: { readonly method: 'stratified'; readonly test_fraction: number; readonly seed: number; readonly train_rows: number; readonly test_rows: number };
    readonly algorithm: string;
    readonly l2: number;
  };
  readonly metrics: {
    readonly heldout_accuracy: number;
    readonly heldout_roc_auc: number;
    readonly train_positive_rate: number;
  };
  readonly baseline: {
    readonly features: Readonly<Record<string, Baseline>>;
    readonly score: Baseline & { readonly positive_rate: number };
  };
  readonly artifact: { readonly file: string; readonly sha256: string; readonly bytes: number };
}

/** Raised when a card is missing, not JSON, or lacks what the service needs. */
export class ModelCardError extends Error {
  override name = 'ModelCardError';
  /** The file could not be read at all (rather than read and found invalid). */
  readonly unreadable: boolean;
  constructor(message: string, unreadable = false) {
    super(message);
    this.unreadable = unreadable;
  }
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Checks the fields the service depends on; returns the card typed, or throws naming the field. */
export function validateCard(doc: unknown, source = 'model card'): ModelCard {
  const fail = (field: string, expected: string): never => {
    throw new ModelCardError(`${source}: '${field}' must be ${expected}`);
  };
  if (typeof doc !== 'object' || doc === null) fail('(root)', 'a JSON object');
  const c = doc as Record<string, any>;
  if (c.schema_version !== 1) fail('schema_version', '1');
  if (typeof c.name !== 'string' || !c.name) fail('name', 'a non-empty string');
  if (typeof c.version !== 'string' || !/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/.test(c.version)) {
    fail('version', 'a version string of letters, digits and . + _ - (at most 64)');
  }
  const features = c.input?.features;
  if (!Array.isArray(features) || features.length === 0 || features.some((f: unknown) => typeof f !== 'string' || !f)) {
    fail('input.features', 'a non-empty array of feature names');
  }
  if (new Set(features).size !== features.length) fail('input.features', 'free of duplicate names');
  if (typeof c.input?.name !== 'string') fail('input.name', 'the ONNX input name');
  if (typeof c.output?.name !== 'string') fail('output.name', 'the ONNX output name');
  if (typeof c.output?.positive_label !== 'string' || typeof c.output?.negative_label !== 'string') {
    fail('output.positive_label/negative_label', 'strings');
  }
  if (!isFiniteNumber(c.output?.threshold) || c.output.threshold <= 0 || c.output.threshold >= 1) {
    fail('output.threshold', 'a number between 0 and 1');
  }
  return c as ModelCard;
}

/** Reads and validates a model card file. */
export async function readCard(path: string): Promise<ModelCard> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ModelCardError(`cannot read model card ${path}: ${(err as Error).message}`, true);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ModelCardError(`model card ${path} is not JSON: ${(err as Error).message}`);
  }
  return validateCard(doc, path);
}

/** The card as `GET /model` shows it: everything but the bulky per-feature baselines. */
export function publicCard(card: ModelCard): Omit<ModelCard, 'baseline'> & { baseline: { score: ModelCard['baseline']['score']; features: string } } {
  const { baseline, ...rest } = card;
  return { ...rest, baseline: { score: baseline.score, features: `${Object.keys(baseline.features).length} feature baselines omitted` } };
}
