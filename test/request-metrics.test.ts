import { describe, expect, it } from 'vitest';
import { observeFetch, requestMetrics, UNMATCHED, type FetchHandler } from '../src/http/request-metrics.ts';
import type { ServiceMetrics } from '../telemetry/metrics.ts';

/** A ServiceMetrics that keeps what recordRequest is given. */
function recorder() {
  const requests: { method: string; endpoint: string; status: number; seconds: number }[] = [];
  const metrics = {
    recordRequest: (method: string, endpoint: string, status: number, seconds: number) => requests.push({ method, endpoint, status, seconds }),
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

  it('records an asynchronous response when it resolves, and returns it unchanged', async () => {
    const { requests, metrics } = recorder();
    const sent = new Response('{}', { status: 422 });
    const pending = wrap(async () => sent, metrics)(new Request('http://x/predict', { method: 'POST', body: '{}' }));
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
    const reports: [string, string, number, unknown][] = [];
    const request = new Request('http://x/p');
    const done = (r: Request, state: string, s: number, e?: unknown) => reports.push([r.url, state, s, e]);
    await expect(observeFetch(fetch, request, env, undefined, done, 'state')).rejects.toBe(err);
    expect(seen).toEqual(['http://x/p', env]);
    expect(reports).toEqual([['http://x/p', 'state', 500, err]]);
  });
});
