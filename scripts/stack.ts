/**
 * `npm run stack`: the API, Prometheus and Alertmanager as local processes, for machines
 * without Docker. The same infra/ files as `docker compose up` (see README). Data persists in
 * .data/stack; Ctrl-C stops everything.
 *
 *   npm run stack [-- --profile fast] [--data .data/stack] [--webhook http://127.0.0.1:9999/]
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_PORTS, ROOT, startStack, type ProfileName } from './lib/stack.ts';

const { values: a } = parseArgs({
  options: {
    profile: { type: 'string', default: 'default' },
    data: { type: 'string', default: join(ROOT, '.data/stack') },
    webhook: { type: 'string' },
  },
});
if (a.profile !== 'default' && a.profile !== 'fast') {
  console.error(`--profile must be default or fast, got '${a.profile}'`);
  process.exit(2);
}
execFileSync('bash', [join(ROOT, 'scripts/setup-tools.sh')], { stdio: 'inherit' });

const stack = await startStack({
  dataDir: a.data!,
  profile: a.profile as ProfileName,
  webhookUrl: a.webhook,
  // Rollouts through the admin API are handy in a local stack; the token is printed below.
  apiEnv: { ADMIN_TOKEN: process.env.ADMIN_TOKEN ?? 'local-stack-admin-token' },
});
const p = DEFAULT_PORTS;
console.log(`
stack up (${a.profile} profile, data in ${a.data}):
  API            http://127.0.0.1:${p.api}        (try: npm run loadgen)
  metrics        http://127.0.0.1:${p.scrape}/metrics
  Prometheus     http://127.0.0.1:${p.prometheus}   (alerts: /api/v1/alerts, targets: /api/v1/targets)
  Alertmanager   http://127.0.0.1:${p.alertmanager}
  logs           ${join(a.data!, 'logs')}
Ctrl-C stops everything.`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('stopping...');
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
for (const s of [stack.api!, stack.prometheus, stack.alertmanager]) {
  void s.exited.then((code) => {
    if (!stopping) {
      console.error(`${s.name} exited unexpectedly (${code}); see ${join(a.data!, 'logs', `${s.name}.log`)}`);
      void stop();
    }
  });
}
