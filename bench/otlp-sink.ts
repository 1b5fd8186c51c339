/**
 * A minimal local OTLP/HTTP receiver for the traces configuration: it accepts every export
 * (protobuf or JSON), answers 200 with an empty response, and counts requests and bytes. It
 * decodes nothing: the benchmark measures the service's cost of exporting, not a collector.
 */
import { createServer, type Server } from 'node:http';

/** A running sink. */
export interface OtlpSink {
  readonly url: string;
  readonly stats: { requests: number; bytes: number; byPath: Record<string, number> };
  close(): Promise<void>;
}

/** Starts a sink on a free loopback port. */
export async function startOtlpSink(): Promise<OtlpSink> {
  const stats = { requests: 0, bytes: 0, byPath: {} as Record<string, number> };
  const server: Server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      stats.requests++;
      stats.bytes += bytes;
      const path = req.url ?? '';
      stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
      const json = req.headers['content-type']?.includes('json');
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
