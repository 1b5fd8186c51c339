import { describe, expect, it } from 'vitest';
import { findDuplicateKey, parseJsonBody } from '../src/http/json.ts';
import { ApiError } from '../src/http/errors.ts';

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
