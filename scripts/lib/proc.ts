/** Process helpers shared by the stack, the benchmark and the tests. */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** The node arguments of `npm start`, read from package.json so no caller can drift from it. */
export function startArgs(): string[] {
  const script = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start as string;
  const [bin, ...args] = script.split(/\s+/);
  if (bin !== 'node') throw new Error(`npm start is expected to run node, not: ${script}`);
  return args;
}
