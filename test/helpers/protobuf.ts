/**
 * A protobuf wire-format reader for tests: enough to check an OTLP request field by field
 * without the schema (and without the encoder under test).
 */

/** A field's values in order of appearance: varints as bigint, fixed64 and length-delimited as bytes, fixed32 as number. */
export type Fields = Map<number, Array<bigint | number | Buffer>>;

/** Reads one message's fields. */
export function readMessage(buf: Buffer): Fields {
  const fields: Fields = new Map();
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const b = buf[pos++]!;
      result |= BigInt(b & 127) << shift;
      if ((b & 128) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    let value: bigint | number | Buffer;
    switch (key & 7) {
      case 0:
        value = varint();
        break;
      case 1:
        value = buf.subarray(pos, (pos += 8));
        break;
      case 2: {
        const len = Number(varint());
        if (pos + len > buf.length) throw new Error(`field ${field}: length ${len} past the end`);
        value = buf.subarray(pos, (pos += len));
        break;
      }
      case 5:
        value = buf.readUInt32LE(pos);
        pos += 4;
        break;
      default:
        throw new Error(`field ${field}: wire type ${key & 7}`);
    }
    if (!fields.has(field)) fields.set(field, []);
    fields.get(field)!.push(value);
  }
  return fields;
}

/** The sub-messages of a length-delimited field. */
export const messages = (m: Fields, field: number): Fields[] => ((m.get(field) ?? []) as Buffer[]).map(readMessage);

/** The spans of an OTLP/protobuf `ExportTraceServiceRequest` body (ResourceSpans → ScopeSpans → Span). */
export const exportedSpans = (body: Buffer): Fields[] =>
  messages(readMessage(body), 1)
    .flatMap((rs) => messages(rs, 2))
    .flatMap((ss) => messages(ss, 2));

/** A string field. */
export const str = (m: Fields, field: number): string | undefined => (m.get(field)?.[0] as Buffer | undefined)?.toString('utf8');

/** OTLP KeyValue list (repeated field `field`) as a plain object of string and int values. */
export function keyValues(m: Fields, field: number): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of messages(m, field)) {
    const value = messages(kv, 2)[0]!;
    const key = str(kv, 1)!;
    if (value.has(1)) out[key] = str(value, 1)!;
    else if (value.has(2)) out[key] = value.get(2)![0] === 1n;
    else if (value.has(3)) out[key] = Number(value.get(3)![0] as bigint);
  }
  return out;
}
