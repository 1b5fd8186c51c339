import { afterEach, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { PROMETHEUS_CONTENT_TYPE, startScrapeServer, type ScrapeServer } from '../telemetry/scrape-server.ts';

const TEXT = '# HELP up_total Something.\n# TYPE up_total counter\nup_total 1\n';
let servers: ScrapeServer[] = [];

/** Starts a scrape server on a free loopback port and waits until it listens. */
async function start(render: () => Promise<string>, port = 0): Promise<{ s: ScrapeServer; url: string }> {
  const s = startScrapeServer({ host: '127.0.0.1', port, render });
  servers.push(s);
  await new Promise<void>((resolve) => {
    if (s.server.listening) return resolve();
    s.server.once('listening', () => resolve());
    s.server.once('error', () => resolve());
  });
  const addr = s.server.address() as AddressInfo | null;
  return { s, url: addr ? `http://127.0.0.1:${addr.port}` : '' };
}

afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

describe('the scrape server', () => {
  it('serves the rendering on GET /metrics with a length, the exposition type and its render time', async () => {
    const { url } = await start(async () => {
      const end = performance.now() + 5;
      while (performance.now() < end);
      return TEXT;
    });
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(TEXT)));
    const dur = Number(/^render;dur=([\d.]+)$/.exec(res.headers.get('server-timing') ?? '')?.[1]);
    expect(dur).toBeGreaterThanOrEqual(5);
    expect(dur).toBeLessThan(1000);
    expect(await res.text()).toBe(TEXT);
  });

  it('answers HEAD without a body, other methods with 405 and Allow, other paths with 404', async () => {
    let renders = 0;
    const { url } = await start(async () => {
      renders++;
      return TEXT;
    });
    const head = await fetch(`${url}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const post = await fetch(`${url}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${url}/other`)).status).toBe(404);
    expect((await fetch(`${url}/metrics?x=1`)).status).toBe(200);
    expect(renders).toBe(2);
  });

  it('answers 500 when the render fails, and keeps serving', async () => {
    let fail = true;
    const { url } = await start(async () => {
      if (fail) throw new Error('collector broke');
      return TEXT;
    });
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(500);
    expect(await res.text()).toContain('collector broke');
    fail = false;
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  });

  it('logs, not throws, when the port is taken', async () => {
    const { s: first } = await start(async () => TEXT);
    const port = (first.server.address() as AddressInfo).port;
    const { s: second } = await start(async () => TEXT, port);
    expect(second.server.listening).toBe(false);
    await second.close();
    expect(first.server.listening).toBe(true);
  });
});
