/** A local Alertmanager webhook receiver that records every notification with its arrival time. */
import { createServer } from 'node:http';

/** One alert inside a notification. */
export interface ReceivedAlert {
  readonly status: 'firing' | 'resolved';
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

/** One webhook call. */
export interface Notification {
  readonly at: number;
  readonly receiver: string;
  readonly status: 'firing' | 'resolved';
  readonly alerts: ReceivedAlert[];
}

/** A running receiver. */
export interface WebhookReceiver {
  readonly url: string;
  readonly notifications: Notification[];
  /** Resolves with the time (ms epoch) the first notification matching arrives. */
  waitFor(alertname: string, status: 'firing' | 'resolved', timeoutMs: number, since?: number): Promise<number>;
  /** Alert names seen with `status` since `since`. */
  seen(since: number, status?: 'firing' | 'resolved'): Set<string>;
  close(): Promise<void>;
}

/** Starts the receiver on a free loopback port. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const notifications: Notification[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        notifications.push({ at: Date.now(), receiver: body.receiver, status: body.status, alerts: body.alerts });
      } catch {
        // ignore non-JSON
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const match = (n: Notification, name: string, status: string, since: number) =>
    n.at >= since && n.alerts.some((a) => a.labels.alertname === name && a.status === status);
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    notifications,
    async waitFor(name, status, timeoutMs, since = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = notifications.find((n) => match(n, name, status, since));
        if (hit) return hit.at;
        if (Date.now() > deadline) {
          const got = notifications.filter((n) => n.at >= since).flatMap((n) => n.alerts.map((a) => `${a.labels.alertname}:${a.status}`));
          throw new Error(`no ${status} ${name} within ${timeoutMs} ms; received: ${got.join(', ') || 'nothing'}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    seen(since, status) {
      return new Set(notifications.filter((n) => n.at >= since).flatMap((n) => n.alerts.filter((a) => !status || a.status === status).map((a) => a.labels.alertname!)));
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
