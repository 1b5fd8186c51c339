/**
 * The scrape port (OTEL_EXPORTER_PROMETHEUS_HOST/PORT, default 9464): a bare `node:http` server
 * that answers `GET /metrics` with the Prometheus exporter's rendering, the same renderer as the
 * API port's `/metrics`.
 *
 * Why not the exporter's own server: it answers with a chunked body and no timing, so nothing
 * tells a slow scrape's server time from the network's or the scraper's. This one sends a
 * Content-Length and a `Server-Timing: render;dur=<ms>` header (the collection and
 * serialisation time), which the benchmark reads; and it refuses other methods with 405.
 */
import { diag } from '@opentelemetry/api';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** The text exposition's content type (Prometheus text format 0.0.4). */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Options for {@link startScrapeServer}. */
export interface ScrapeServerOptions {
  host: string;
  port: number;
  /** Renders the exposition; called once per scrape. */
  render: () => Promise<string>;
  /** The path served (default `/metrics`). */
  endpoint?: string;
}

/** A running scrape server. */
export interface ScrapeServer {
  readonly server: Server;
  /** Stops listening and closes idle keep-alive connections. */
  close(): Promise<void>;
}

/** Renders and times one exposition: the body and its `Server-Timing` value (`render;dur=<ms>`). */
export async function timedRender(render: () => Promise<string>): Promise<{ body: string; timing: string }> {
  const t0 = performance.now();
  const body = await render();
  return { body, timing: `render;dur=${(performance.now() - t0).toFixed(3)}` };
}

/**
 * Starts listening. A bind failure (port in use) is logged, not thrown, as the exporter's own
 * server did: the API and its `/metrics` keep working.
 */
export function startScrapeServer(opts: ScrapeServerOptions): ScrapeServer {
  const endpoint = opts.endpoint ?? '/metrics';
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    // Only the path matters; a query string (Prometheus sends none) is ignored.
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== endpoint) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found; metrics are at ${endpoint}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end(`${req.method} is not allowed; use GET\n`);
      return;
    }
    timedRender(opts.render).then(
      ({ body, timing }) => {
        res.writeHead(200, {
          'content-type': PROMETHEUS_CONTENT_TYPE,
          'content-length': Buffer.byteLength(body),
          'server-timing': timing,
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        diag.error('scrape failed', err);
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`# failed to export metrics: ${String(err)}\n`);
      },
    );
  };
  // Unreferenced, as the exporter's was: an open scrape port never keeps the process alive.
  const server = createServer(handle).unref();
  server.on('error', (err) => diag.error(`Prometheus scrape server on ${opts.host}:${opts.port}:`, err));
  server.listen(opts.port, opts.host);
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
