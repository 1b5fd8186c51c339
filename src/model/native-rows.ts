/**
 * Reads a `POST /predict` body, as bytes, into the model's input. The native reader
 * (`native/row_parser.cc`, built by `npm ci`) takes the shapes nearly every body has straight
 * from the bytes into a Float32Array; for anything else it declines, and the body goes the
 * JavaScript way (`JSON.parse`, the duplicate-key check, the row reader), which decides every
 * error. So the answer to a body is the same with or without the addon, and only its cost
 * differs: a 64-row batch of named rows costs a fraction of `JSON.parse`'s, which built an object
 * per row and a property per value only for them to be copied and dropped (docs/benchmark.md,
 * session 17).
 */
import { loadAddon, type AddonResult } from '../../telemetry/addon.ts';
import { parseJsonBody } from '../http/json.ts';
import { createRowParser, type InputBatch, type RowParserOptions } from './rows.ts';

/** What the addon exports. */
export interface RowParserAddon {
  /** A reader for one feature list; `parse` returns the rows of a batch, 0 for a single row, -1 to decline. */
  create(names: readonly string[], maxRows: number): { parse(body: ArrayBuffer | Uint8Array, out: Float32Array): number };
}

/** Where `npm ci` builds the addon. */
export const ROW_PARSER_ADDON = new URL('./native/build/Release/row_parser.node', import.meta.url);

/** The addon at `file` (default: the one `npm ci` builds), or why it could not be loaded. Loaded once per process. */
export function loadRowParser(file: URL = ROW_PARSER_ADDON): AddonResult<RowParserAddon> {
  return loadAddon<RowParserAddon>(file);
}

/** How prediction bodies are read in this process: `native` when the addon loads, else `json_parse`. */
export function bodyReader(): 'native' | 'json_parse' {
  return 'addon' in loadRowParser() ? 'native' : 'json_parse';
}

/** Options for {@link createBodyParser}. */
export interface BodyParserOptions extends RowParserOptions {
  /** The native reader to try first; `null` reads every body with JSON.parse. Default: the built addon, when it loads. */
  addon?: RowParserAddon | null;
}

/** A function from a request body's bytes to the model's input; throws the API's 400/422 errors. */
export type BodyParser = (body: ArrayBuffer | Uint8Array) => InputBatch;

/** Builds the reader for one model's feature list. */
export function createBodyParser(opts: BodyParserOptions): BodyParser {
  const { features, maxBatch } = opts;
  const width = features.length;
  const rows = createRowParser(opts);
  // As @hono/node-server's `text()` decodes: UTF-8, a byte-order mark dropped, bad bytes replaced.
  const decoder = new TextDecoder();
  const slow: BodyParser = (body) => rows(parseJsonBody(decoder.decode(body)));
  const addon = opts.addon === undefined ? (loadRowParser() as { addon?: RowParserAddon }).addon : opts.addon;
  // The reader tells a `{"features": ...}` row wrapper from named features by its first key: a
  // model with a feature of that name (or `instances`) keeps to the JavaScript path.
  if (!addon || width === 0 || features.includes('features') || features.includes('instances')) return slow;
  let reader: ReturnType<RowParserAddon['create']>;
  try {
    reader = addon.create(features, maxBatch);
  } catch {
    return slow; // a feature name the reader cannot compare in place (a quote, say)
  }
  // The reader writes here; each request gets a copy of its rows (the model runs asynchronously,
  // so another request may be read into the scratch before this one's inference starts).
  const scratch = new Float32Array(maxBatch * width);
  return (body) => {
    const n = reader.parse(body, scratch);
    if (n === 0) return { data: scratch.slice(0, width), rows: 1, batch: false };
    if (n > 0) return { data: scratch.slice(0, n * width), rows: n, batch: true };
    return slow(body);
  };
}
