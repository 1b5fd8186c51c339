/** A local OTLP/HTTP receiver that records what the service pushes (JSON or protobuf). */
import { createServer, type Server } from 'node:http';

/** One received export request. */
export interface OtlpRequest {
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
}

/** A running sink. */
export interface OtlpSink {
  readonly url: string;
  readonly requests: OtlpRequest[];
  close(): Promise<void>;
}

/** Starts a sink on a free loopback port; it answers every export with 200 {}. */
export async function startOtlpSink(): Promise<OtlpSink> {
  const requests: OtlpRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/json' });
      res.end(req.headers['content-type']?.includes('json') ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
