import { describe, expect, it } from 'vitest';
import { countColons, countKeys, findDuplicateKey, parseJsonBody } from '../src/http/json.ts';
import { ApiError } from '../src/http/errors.ts';
import { random } from './helpers/random.ts';

describe('findDuplicateKey', () => {
  it('finds none in valid documents without duplicates', () => {
    for (const doc of ['{}', '[]', '{"a":1,"b":{"a":2}}', '[{"a":1},{"a":2}]', '{"a":"\\"a\\":1,\\"a\\""}', '"x"', '{"a":[{"b":1,"c":2}],"b":3}']) {
      expect(findDuplicateKey(doc), doc).toBeUndefined();
    }
  });

  it('finds duplicates with a JSON pointer to them', () => {
    expect(findDuplicateKey('{"a":1,"a":2}')).toEqual({ key: 'a', pointer: '/a' });
    expect(findDuplicateKey('{"features":{"x":1, "y":2 ,"x":3}}')).toEqual({ key: 'x', pointer: '/features/x' });
    expect(findDuplicateKey('{"instances":[{"features":{"x":1}},{"features":{"x":1,"y":[1,2],"x":2}}]}')).toEqual({
      key: 'x',
      pointer: '/instances/1/features/x',
    });
  });

  it('treats escaped and plain spellings of a key as the same key', () => {
    expect(findDuplicateKey('{"ab":1,"\\u0061b":2}')).toEqual({ key: 'ab', pointer: '/ab' });
  });

  it('is not fooled by braces, commas and colons inside strings', () => {
    expect(findDuplicateKey('{"a":"}{,:\\"","b":["a",{"a":1}],"c":"a"}')).toBeUndefined();
  });
});

describe('parseJsonBody', () => {
  it('400s on malformed JSON, 422s on duplicates with the batch row', () => {
    expect(() => parseJsonBody('{')).toThrow(ApiError);
    try {
      parseJsonBody('{"instances":[[1],{"features":{"a":1,"a":2}}]}');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(422);
      expect((err as ApiError).details).toEqual({ field: 'a', pointer: '/instances/1/features/a', row: 1 });
    }
  });
});

describe('the duplicate check fast path', () => {
  it('finds duplicates exactly when the key count of the text exceeds the parsed one', () => {
    for (const [doc, dup] of [
      ['{"a":1,"b":"x:y","c":{"d":":"}}', false],
      ['{"a\\":":1,"b":2}', false],
      ['{"a":1,"a":2}', true],
      ['{"x":{"a":"\\\\","a":1}}', true],
      ['[{"a":1},{"a":1,"b":[{"c":1,"c":2}]}]', true],
    ] as const) {
      if (dup) expect(() => parseJsonBody(doc), doc).toThrow(ApiError);
      else expect(parseJsonBody(doc), doc).toEqual(JSON.parse(doc));
    }
  });
});

describe('the fast path on generated documents', () => {
  // Keys and strings from a tiny alphabet, so duplicates and colons, quotes and backslashes inside
  // strings are common.
  const alphabet = ['a', 'b', ':', '"', '\\', '{', ',', 'é'];
  function text(rnd: () => number): string {
    let s = '';
    for (let i = Math.floor(rnd() * 3); i > 0; i--) s += alphabet[Math.floor(rnd() * alphabet.length)];
    return JSON.stringify(s);
  }
  function value(rnd: () => number, depth: number): string {
    const pick = rnd();
    if (depth > 2 || pick < 0.3) return rnd() < 0.5 ? String(Math.round(rnd() * 100) / 10) : text(rnd);
    const items = Array.from({ length: Math.floor(rnd() * 4) }, () => value(rnd, depth + 1));
    if (pick < 0.55) return `[${items.join(rnd() < 0.5 ? ',' : ' , ')}]`;
    return `{${items.map((v) => `${text(rnd)}${rnd() < 0.5 ? ':' : ' : '}${v}`).join(',')}}`;
  }

  it('returns exactly what JSON.parse does when no key repeats, and a 422 naming it when one does', () => {
    const rnd = random(42);
    let duplicates = 0;
    let colonsInStrings = 0;
    for (let i = 0; i < 3000; i++) {
      const doc = value(rnd, 0);
      const parsed = JSON.parse(doc);
      // Colons are never fewer than the keys, whatever the strings hold.
      expect(countColons(doc), doc).toBeGreaterThanOrEqual(countKeys(parsed));
      if (countColons(doc) > countKeys(parsed) && !findDuplicateKey(doc)) colonsInStrings++;
      const dup = findDuplicateKey(doc);
      if (dup) {
        duplicates++;
        expect(() => parseJsonBody(doc), doc).toThrow(expect.objectContaining({ status: 422, code: 'duplicate_key' }));
      } else {
        expect(parseJsonBody(doc), doc).toEqual(parsed);
      }
    }
    // The generator reaches both sides of the check.
    expect(duplicates).toBeGreaterThan(100);
    expect(colonsInStrings).toBeGreaterThan(100);
  });
});
