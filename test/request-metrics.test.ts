import { describe, expect, it } from 'vitest';
import { observeFetch, pathMemo, requestMetrics, UNMATCHED, type FetchHandler } from '../src/http/request-metrics.ts';
import type { ServiceMetrics } from '../telemetry/metrics.ts';

/** A ServiceMetrics that keeps the requests it is given. */
function recorder() {
  const requests: { method: string; endpoint: string; status: number; seconds: number }[] = [];
  const metrics = {
    requestRecorder: (method: string, endpoint: string) => ({
      record: (status: number, seconds: number) => requests.push({ method, endpoint, status, seconds }),
    }),
  } as unknown as ServiceMetrics;
  return { requests, metrics };
}

const getPath = (r: Request) => new URL(r.url).pathname;
const wrap = (fetch: FetchHandler, metrics: ServiceMetrics) => requestMetrics({ metrics, routes: ['/predict', '/health'], getPath })(fetch);

describe('requestMetrics (fetch wrapper)', () => {
  it('records a synchronous response at once, with the route template and status', () => {
    const { requests, metrics } = recorder();
    const res = wrap(() => new Response(null, { status: 204 }), metrics)(new Request('http://x/health?verbose=1'));
    expect(res).toBeInstanceOf(Response);
    expect(requests).toEqual([{ method: 'GET', endpoint: '/health', status: 204, seconds: expect.any(Number) }]);
  });

  it('records an asynchronous response when it resolves, and returns the app\'s own promise', async () => {
    const { requests, metrics } = recorder();
    const sent = new Response('{}', { status: 422 });
    const answer = Promise.resolve(sent);
    const pending = wrap(() => answer, metrics)(new Request('http://x/predict', { method: 'POST', body: '{}' }));
    // The server awaits the app's promise itself: the wrapper adds no link to the chain.
    expect(pending).toBe(answer);
    expect(requests).toHaveLength(0);
    expect(await pending).toBe(sent);
    expect(requests).toEqual([{ method: 'POST', endpoint: '/predict', status: 422, seconds: expect.any(Number) }]);
    expect(requests[0]!.seconds).toBeGreaterThanOrEqual(0);
  });

  it('labels unknown paths and invented methods without creating new values', () => {
    const { requests, metrics } = recorder();
    wrap(() => new Response(null, { status: 404 }), metrics)(new Request('http://x/predict/../../etc', { method: 'BREW' }));
    expect(requests[0]).toMatchObject({ method: 'OTHER', endpoint: UNMATCHED, status: 404 });
  });

  it('records 500 and rethrows when the app throws or rejects', async () => {
    const { requests, metrics } = recorder();
    const boom = new Error('boom');
    expect(() =>
      wrap(() => {
        throw boom;
      }, metrics)(new Request('http://x/health')),
    ).toThrow(boom);
    await expect(wrap(async () => Promise.reject(boom), metrics)(new Request('http://x/predict', { method: 'POST' }))).rejects.toBe(boom);
    expect(requests.map((r) => [r.endpoint, r.status])).toEqual([
      ['/health', 500],
      ['/predict', 500],
    ]);
  });
});

describe('observeFetch', () => {
  it('passes the request, env and execution context through and reports the request, its state and the error it saw', async () => {
    const seen: unknown[] = [];
    const env = { A: 1 };
    const err = new TypeError('bad');
    const fetch: FetchHandler = (req, e) => {
      seen.push(req.url, e);
      return Promise.reject(err);
    };
    const reports: [string, number, number, unknown][] = [];
    const request = new Request('http://x/p');
    const done = (a: string, b: number, s: number, e?: unknown) => reports.push([a, b, s, e]);
    await expect(observeFetch(fetch, request, env, undefined, done, 'state', 7)).rejects.toBe(err);
    expect(seen).toEqual(['http://x/p', env]);
    expect(reports).toEqual([['state', 7, 500, err]]);
  });

  it('observes a rejection without raising an unhandled one of its own', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const err = new Error('late');
      const reports: number[] = [];
      const res = observeFetch(() => Promise.reject(err), new Request('http://x/p'), undefined, undefined, (_a, _b, s) => reports.push(s), 0, 0);
      await expect(res).rejects.toBe(err);
      await new Promise((r) => setTimeout(r, 10));
      expect(reports).toEqual([500]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('pathMemo', () => {
  it('gives back the path the router read for the same request, and reads any other request itself', () => {
    const reads: string[] = [];
    const paths = pathMemo((r) => {
      reads.push(r.url);
      return new URL(r.url).pathname;
    });
    const a = new Request('http://x/predict?x=1');
    const b = new Request('http://x/health');
    expect(paths.read(a)).toBe('/predict');
    expect(paths.of(a)).toBe('/predict');
    expect(reads).toEqual(['http://x/predict?x=1']);
    // Not the last request read: read again, never another request's path.
    expect(paths.of(b)).toBe('/health');
    expect(paths.of(a)).toBe('/predict');
    expect(reads).toHaveLength(3);
  });
});
