import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PortTakenError, retryIfPortTaken } from '../scripts/lib/proc.ts';
import { startService } from './helpers/service.ts';
import { portWasTaken } from './helpers/stack.ts';

describe('test helpers: ports taken between freePort and the bind', () => {
  it('retryIfPortTaken starts again only after a taken port, three runs at most', async () => {
    // How many times a start that always fails with `failure` is run before its error comes out.
    const runsUntilThrown = async (failure: Error) => {
      let n = 0;
      await expect(retryIfPortTaken(async () => {
        n++;
        throw failure;
      })).rejects.toThrow(failure.message);
      return n;
    };
    expect(await runsUntilThrown(new PortTakenError('taken'))).toBe(3);
    expect(await runsUntilThrown(new Error('model missing'))).toBe(1);
    let runs = 0;
    expect(await retryIfPortTaken(async () => (++runs < 2 ? Promise.reject(new PortTakenError('taken')) : 'up'))).toBe('up');
    expect(runs).toBe(2);
  });

  it('startService retries, then fails with the EADDRINUSE, when the API port or the scrape port is taken', async () => {
    const held = createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    const port = String((held.address() as { port: number }).port);
    try {
      // The env pins the port to the held one, so every attempt meets it taken.
      await expect(startService({ env: { PORT: port } })).rejects.toThrow(/EADDRINUSE/);
      await expect(startService({ env: { OTEL_EXPORTER_PROMETHEUS_PORT: port } })).rejects.toThrow(/port was taken.*EADDRINUSE/s);
    } finally {
      held.close();
    }
  }, 60_000);

  it('startDrillStack retries only when a process logged that its port was in use', () => {
    const dir = mkdtempSync(join(tmpdir(), 'logs-'));
    expect(portWasTaken(join(dir, 'missing'))).toBe(false);
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    writeFileSync(join(logs, 'api.log'), '{"level":"info","msg":"listening"}\n');
    expect(portWasTaken(logs)).toBe(false);
    writeFileSync(join(logs, 'prometheus.log'), 'level=ERROR msg="Unable to start web listener" err="listen tcp 127.0.0.1:9090: bind: address already in use"\n');
    expect(portWasTaken(logs)).toBe(true);
  });
});
