/**
 * The native body reader (src/model/native/row_parser.cc) against the JavaScript path it stands
 * in front of: for every body, the same rows to the bit, or the same error. The addon must be
 * built (npm ci builds it); a missing one fails here rather than testing the fallback twice.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../src/http/errors.ts';
import { bodyReader, createBodyParser, loadRowParser, type BodyParser, type RowParserAddon } from '../src/model/native-rows.ts';
import { random } from './helpers/random.ts';

const card = JSON.parse(readFileSync(new URL('../models/breast-cancer-v1.0.0.card.json', import.meta.url), 'utf8')) as { input: { features: string[] } };
const FEATURES = card.input.features;
const WIDTH = FEATURES.length;
const MAX_BATCH = 8;

const loaded = loadRowParser();
const addon = 'addon' in loaded ? loaded.addon : undefined;
const native = createBodyParser({ features: FEATURES, maxBatch: MAX_BATCH });
const js = createBodyParser({ features: FEATURES, maxBatch: MAX_BATCH, addon: null });
const encoder = new TextEncoder();
const bytes = (s: string) => encoder.encode(s);

/** What a reader made of a body: its rows (as bits, so -0 and NaN patterns count) or its error. */
function outcome(parse: BodyParser, body: Uint8Array): unknown {
  try {
    const r = parse(body);
    return { rows: r.rows, batch: r.batch, bits: Array.from(new Uint32Array(r.data.buffer, r.data.byteOffset, r.data.length)) };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { status: err.status, code: err.code, message: err.message, details: err.details };
  }
}

/** Whether the addon itself took the body (rather than declining it to the JavaScript path). */
function taken(body: Uint8Array): boolean {
  const reader = addon!.create(FEATURES, MAX_BATCH);
  return reader.parse(body, new Float32Array(MAX_BATCH * WIDTH)) >= 0;
}

/** Values at float32's and double's edges: past float32's range, under double's, signed zeros. */
const EDGES = ['3.4028235e38', '3.4028234e38', '-3.4028236e38', '1.4e-45', '7e-46', '1e-400', '2.5e-324', '1e308', '0', '-0', '0.0e0', '-0.0'];
const FLOAT32_MAX = 3.4028234663852886e38;

/** A number's text in one of the forms clients write: shortest, fixed, exponent, many digits; with `edges`, sometimes an edge value. */
function numberText(rnd: () => number, edges = true): string {
  const magnitude = 10 ** Math.floor(rnd() * 16 - 8);
  const v = (rnd() - 0.3) * magnitude;
  let form = Math.floor(rnd() * 8);
  if (form === 6 && !edges) form = 0;
  if (form === 0) return String(v);
  if (form === 1) return v.toFixed(Math.floor(rnd() * 8));
  if (form === 2) return v.toExponential(Math.floor(rnd() * 17));
  if (form === 3) return v.toPrecision(Math.floor(rnd() * 21) + 1).replace('e+', rnd() < 0.5 ? 'E' : 'e+');
  if (form === 4) return String(Math.round(v));
  // Long mantissas (past 19 digits and 2^53), and values near float32's and double's edges.
  if (form === 5) return `${Math.floor(rnd() * 9) + 1}${'0123456789'.repeat(3).slice(0, Math.floor(rnd() * 28))}.${Math.floor(rnd() * 1e9)}`;
  if (form === 6) return EDGES[Math.floor(rnd() * EDGES.length)]!;
  return `${rnd() < 0.5 ? '-' : ''}0.${'0'.repeat(Math.floor(rnd() * 30))}${Math.floor(rnd() * 1e6) + 1}`;
}

/** A valid body: one row or a batch, named or positional rows, wrapped or not, varied spacing and key order. */
function body(rnd: () => number): string {
  const sp = () => [' ', '', '\n', '\t', '\r\n  '][Math.floor(rnd() * 5)]!;
  const row = () => {
    if (rnd() < 0.25) return `[${sp()}${FEATURES.map(() => numberText(rnd, false)).join(`${sp()},${sp()}`)}${sp()}]`;
    const order = rnd() < 0.7 ? FEATURES : [...FEATURES].sort(() => rnd() - 0.5);
    return `{${sp()}${order.map((f) => `"${f}"${sp()}:${sp()}${numberText(rnd, false)}`).join(`,${sp()}`)}${sp()}}`;
  };
  const wrapped = () => (rnd() < 0.6 ? `{${sp()}"features"${sp()}:${sp()}${row()}${sp()}}` : row());
  if (rnd() < 0.4) return `${sp()}{${sp()}"features":${sp()}${row()}${sp()}}${sp()}`;
  const n = Math.floor(rnd() * MAX_BATCH) + 1;
  return `{"instances":${sp()}[${Array.from({ length: n }, wrapped).join(`,${sp()}`)}]}`;
}

/** A small change to a valid body: most make it malformed or invalid, some keep it valid. */
function mutate(doc: string, rnd: () => number): string {
  const at = Math.floor(rnd() * doc.length);
  const pieces = ['"', ',', ':', '{', '}', '[', ']', ' ', '1', '-', '.', 'e', '\\', '\u00e9', '"mean_radius":1,', 'null', '\u0000', 'x'];
  const kind = Math.floor(rnd() * 5);
  if (kind === 0) return doc.slice(0, at) + doc.slice(at + 1);
  if (kind === 1) return doc.slice(0, at) + pieces[Math.floor(rnd() * pieces.length)] + doc.slice(at);
  if (kind === 2) return doc.slice(0, at) + pieces[Math.floor(rnd() * pieces.length)] + doc.slice(at + 1);
  if (kind === 3) {
    // A key repeated, renamed or escaped.
    const f = FEATURES[Math.floor(rnd() * WIDTH)]!;
    const g = FEATURES[Math.floor(rnd() * WIDTH)]!;
    const replacement = [`"${g}"`, `"${f}x"`, `"\\u006${f.charCodeAt(0) - 0x60}${f.slice(1)}"`, `"features"`, `"instances"`][Math.floor(rnd() * 5)]!;
    return doc.replace(`"${f}"`, replacement);
  }
  return doc.slice(0, at) + doc.slice(at, at + 40).replace(/\d/, String(Math.floor(rnd() * 10)));
}

describe('the native body reader', () => {
  it('is built and loaded (npm ci builds it)', () => {
    expect(loaded).toHaveProperty('addon');
    expect(bodyReader()).toBe('native');
  });

  it('reads the usual bodies itself, to the same floats as JSON.parse and a Float32Array store', () => {
    const named = Object.fromEntries(FEATURES.map((f, i) => [f, i / 7 - 1]));
    const docs = [
      JSON.stringify({ features: named }),
      JSON.stringify({ features: FEATURES.map((_, i) => i * 1e-3) }),
      JSON.stringify({ instances: [{ features: named }, named, FEATURES.map((_, i) => -i)] }),
    ];
    for (const doc of docs) {
      expect(taken(bytes(doc)), doc).toBe(true);
      expect(outcome(native, bytes(doc))).toEqual(outcome(js, bytes(doc)));
    }
    const one = native(bytes(docs[0]!));
    expect(one.rows).toBe(1);
    expect(one.batch).toBe(false);
    expect(Array.from(one.data)).toEqual(FEATURES.map((_, i) => Math.fround(i / 7 - 1)));
  });

  it('reads numbers as JavaScript does, in every form and at float32 and double edges', () => {
    const rnd = random(7);
    let takenCount = 0;
    for (let i = 0; i < 4000; i++) {
      const values = FEATURES.map(() => numberText(rnd));
      const doc = `{"features":[${values.join(',')}]}`;
      const b = bytes(doc);
      expect(outcome(native, b), doc).toEqual(outcome(js, b));
      // Declined only for a value past float32's range or in double's subnormal range (where the
      // JavaScript path decides: Infinity's 422, or its rounding).
      const ordinary = values.every((v) => Math.abs(Number(v)) <= FLOAT32_MAX && (Number(v) === 0 ? !/[1-9]/.test(v) : Math.abs(Number(v)) >= 1e-300));
      if (ordinary) expect(taken(b), doc).toBe(true);
      if (taken(b)) {
        takenCount++;
        const r = native(b);
        values.forEach((v, j) => expect(Object.is(r.data[j], Math.fround(Number(v))), `${v} at ${j}`).toBe(true));
      }
    }
    expect(takenCount).toBeGreaterThan(800);
  });

  it('declines what it does not take, and the JavaScript path answers it as before', () => {
    const named = FEATURES.map((f) => `"${f}":1`).join(',');
    // Valid, but not in the reader's shape: a byte-order mark (dropped by the decoder, as text()
    // did) and an escaped key. The JavaScript path reads them.
    for (const doc of ['\ufeff{"features":[' + FEATURES.map(() => 1).join(',') + ']}', `{"features":{${named.replace('"mean_radius"', '"\\u006dean_radius"')}}}`]) {
      const b = bytes(doc);
      expect(taken(b), doc).toBe(false);
      expect(outcome(native, b), doc).toEqual(outcome(js, b));
      expect(native(b).rows, doc).toBe(1);
    }
    const declined = [
      '',
      ' ',
      `{"features":{${named},"mean_radius":2}}`, // a duplicate
      `{"features":{${named.replace('"mean_radius":1,', '')}}}`, // one missing
      `{"features":{${named},"extra":1}}`,
      `{"features":{${named.replace(':1', ':"1"')}}}`,
      `{"features":{${named.replace(':1', ':1e999')}}}`,
      `{"features":{${named.replace(':1', ':01')}}}`,
      `{"features":{${named.replace(':1', ':1.')}}}`,
      `{"features":{${named.replace(':1', ':+1')}}}`,
      `{"features":{${named.replace(':1', ':NaN')}}}`,
      `{"features":{${named}}},`,
      `{"features":{${named}}} x`,
      `{"features":{${named}},"instances":[]}`,
      `{"instances":[]}`,
      `{"instances":[${Array.from({ length: MAX_BATCH + 1 }, () => `{${named}}`).join(',')}]}`,
      `{"instances":[{"features":{${named}},"id":1}]}`,
      `{"instances":[{"features":{${named}}},]}`,
      `[{"features":{${named}}}]`,
      `{"features":[${FEATURES.slice(1).map(() => 1).join(',')}]}`,
    ];
    for (const doc of declined) {
      const b = bytes(doc);
      expect(taken(b), doc).toBe(false);
      const a = outcome(native, b);
      expect(a, doc).toEqual(outcome(js, b));
      expect(a, doc).toHaveProperty('status');
    }
  });

  it('gives generated and mutated bodies the same answer as the JavaScript path', () => {
    const rnd = random(2026);
    let valid = 0;
    let errors = 0;
    let nativeTaken = 0;
    for (let i = 0; i < 3000; i++) {
      let doc = body(rnd);
      if (i % 3 !== 0) for (let k = Math.floor(rnd() * 3) + 1; k > 0; k--) doc = mutate(doc, rnd);
      const b = bytes(doc);
      const a = outcome(native, b);
      expect(a, doc).toEqual(outcome(js, b));
      if ((a as { status?: number }).status === undefined) valid++;
      else errors++;
      if (taken(b)) nativeTaken++;
    }
    // Both sides are reached, and the reader took most of the valid ones itself.
    expect(valid).toBeGreaterThan(1000);
    expect(errors).toBeGreaterThan(1000);
    expect(nativeTaken).toBeGreaterThan(valid * 0.8);
  });

  it('gives each request rows of its own', () => {
    const a = native(bytes(`{"features":[${FEATURES.map(() => 1).join(',')}]}`));
    const b = native(bytes(`{"instances":[[${FEATURES.map(() => 2).join(',')}]]}`));
    expect(a.data[0]).toBe(1);
    expect(b.data[0]).toBe(2);
    expect(a.data.buffer).not.toBe(b.data.buffer);
  });

  it('leaves models it cannot read in place to JSON.parse', () => {
    // A feature called `features` would be taken for a row wrapper; one with a quote cannot be compared in place.
    for (const features of [['a', 'features'], ['a', 'b"c']]) {
      const parse = createBodyParser({ features, maxBatch: 2 });
      const doc = `{"features":{${features.map((f) => `${JSON.stringify(f)}:1`).join(',')}}}`;
      expect(outcome(parse, bytes(doc))).toEqual(outcome(createBodyParser({ features, maxBatch: 2, addon: null }), bytes(doc)));
    }
    expect(() => (addon as RowParserAddon).create(['a', 'b"c'], 2)).toThrow(TypeError);
  });

  it('says why when the addon cannot be loaded', () => {
    const missing = loadRowParser(new URL('file:///nonexistent/row_parser.node'));
    expect(missing).toHaveProperty('error');
  });
});
