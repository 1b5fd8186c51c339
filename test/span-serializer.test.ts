import { describe, expect, it } from 'vitest';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type SpanContext } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { createSpanSerializer } from '../telemetry/span-serializer.ts';

/** Upstream's encoding, the reference: the same bytes or the test fails. */
const upstream = (spans: ReadableSpan[]) => Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);

function providerWith(attributes: Record<string, string>, limits = {}) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes(attributes),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
    spanLimits: limits,
  });
  return { exporter, provider };
}

/** Spans of every shape the SDK makes: roots, remote and local parents, events, links, errors, every attribute type, limits hit, two resources and three scopes. */
function variedSpans(): ReadableSpan[] {
  const a = providerWith({ 'service.name': 'inference-api', 'service.version': '1.0.0', 'host.name': 'héte' });
  const b = providerWith({ 'service.name': 'other' }, { attributeCountLimit: 3, eventCountLimit: 1, linkCountLimit: 1 });
  const tracer = a.provider.getTracer('inference-api');
  const tracer2 = a.provider.getTracer('second', '2.0.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
  const limited = b.provider.getTracer('limited');
  const remote: SpanContext = {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: new TraceState('vendor=a,other=b'),
  };

  const root = tracer.startSpan('POST /predict', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'url.path': '/predict', 'url.scheme': 'http', 'http.route': '/predict' } }, ROOT_CONTEXT);
  root.setAttribute('http.response.status_code', 200);
  root.end();

  const child = tracer.startSpan('POST /predict', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST' } }, trace.setSpanContext(ROOT_CONTEXT, remote));
  child.setAttributes({
    'http.response.status_code': 503,
    'error.type': '503',
    'a.negative': -42,
    'a.big': 2 ** 40 + 7,
    'a.double': 0.125,
    'a.nan': Number.NaN,
    'a.bool': true,
    'a.false': false,
    'a.strings': ['x', 'ÿ€', ''],
    'a.numbers': [1, 2.5, -3],
    'a.bools': [true, false],
    'a.with-null': ['x', null as unknown as string, 'y'],
    'a.empty': '',
    'a.unicode': 'naïve ☃ 𝄞',
    'a.long': 'x'.repeat(300),
  });
  child.addEvent('scored', { 'model.version': '1.0.0', rows: 64 });
  child.addEvent('empty event');
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream said no' });
  child.end();

  const local = tracer2.startSpan('internal', { kind: SpanKind.INTERNAL, links: [{ context: remote, attributes: { why: 'retry' } }, { context: root.spanContext() }] }, trace.setSpan(context.active(), root));
  local.end();

  const noKind = tracer2.startSpan('client', { kind: SpanKind.CLIENT });
  noKind.setStatus({ code: SpanStatusCode.OK });
  noKind.end();

  const dropped = limited.startSpan('limited', { attributes: { a: 1, b: 2, c: 3, d: 4, e: 5 }, links: [{ context: remote }, { context: remote }] });
  dropped.addEvent('one');
  dropped.addEvent('two');
  dropped.end();

  return [...a.exporter.getFinishedSpans(), ...b.exporter.getFinishedSpans()];
}

describe('span serializer (OTLP protobuf)', () => {
  it('writes the bytes upstream writes, for spans of every shape', () => {
    const spans = variedSpans();
    expect(spans).toHaveLength(5);
    const serializer = createSpanSerializer();
    const first = Buffer.from(serializer.serializeRequest(spans)!);
    expect(first.equals(upstream(spans))).toBe(true);
    // The second time names and attribute pairs come from the cache.
    expect(Buffer.from(serializer.serializeRequest(spans)!).equals(upstream(spans))).toBe(true);
    // Each span alone, and in reverse order (grouping by resource and scope follows first appearance).
    for (const span of spans) expect(Buffer.from(serializer.serializeRequest([span])!).equals(upstream([span]))).toBe(true);
    const reversed = [...spans].reverse();
    expect(Buffer.from(serializer.serializeRequest(reversed)!).equals(upstream(reversed))).toBe(true);
  });

  it('values the SDK never makes but the format has: bytes, key-value lists', () => {
    const [span] = variedSpans();
    const odd: ReadableSpan = {
      name: span!.name,
      kind: span!.kind,
      spanContext: () => span!.spanContext(),
      parentSpanContext: undefined,
      startTime: [1_700_000_000, 123_456_789],
      endTime: [4_102_444_800, 999_999_999],
      status: { code: SpanStatusCode.UNSET },
      attributes: { bytes: new Uint8Array([0, 255, 7]) as never, kv: { inner: 'v', n: 3 } as never },
      links: [],
      events: [],
      duration: [0, 1],
      ended: true,
      resource: span!.resource,
      instrumentationScope: span!.instrumentationScope,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
    expect(Buffer.from(createSpanSerializer().serializeRequest([odd])!).equals(upstream([odd]))).toBe(true);
    // Ids no propagator would accept (upper case, not hex, beyond Latin-1, odd length) still decode as upstream decodes them.
    const badIds: ReadableSpan = { ...odd, spanContext: () => ({ traceId: 'ABCDEFzz 09af☃\u0130', spanId: '0123abc', traceFlags: 0 }) };
    expect(Buffer.from(createSpanSerializer().serializeRequest([badIds])!).equals(upstream([badIds]))).toBe(true);
  });

  it('a batch of thousands (lengths of three bytes, the buffer grown), and earlier results left intact', () => {
    const { exporter, provider } = providerWith({ 'service.name': 'inference-api' });
    const tracer = provider.getTracer('inference-api');
    for (let i = 0; i < 3000; i++) {
      const s = tracer.startSpan(i % 7 === 0 ? 'GET' : 'POST /predict', { kind: SpanKind.SERVER, attributes: { 'url.path': i % 7 === 0 ? `/raw/${i}` : '/predict' } }, ROOT_CONTEXT);
      s.setAttribute('http.response.status_code', 200 + (i % 3));
      s.end();
    }
    const spans = exporter.getFinishedSpans();
    const serializer = createSpanSerializer({ maxCached: 16 });
    const small = Buffer.from(serializer.serializeRequest(spans.slice(0, 10))!);
    const big = serializer.serializeRequest(spans)!;
    expect(big.length).toBeGreaterThan(1 << 16);
    expect(Buffer.from(big).equals(upstream(spans))).toBe(true);
    expect(Buffer.from(serializer.serializeRequest(spans.slice(0, 10))!).equals(small)).toBe(true);
    expect(small.equals(upstream(spans.slice(0, 10)))).toBe(true);
  });

  it('answers responses as upstream does', () => {
    const serializer = createSpanSerializer();
    expect(serializer.deserializeResponse(new Uint8Array())).toEqual(ProtobufTraceSerializer.deserializeResponse(new Uint8Array()));
  });
});
