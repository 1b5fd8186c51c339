/**
 * The telemetry preload: `node --import ./telemetry/register.ts src/server.ts`.
 *
 * It runs before any application module is loaded, which is what lets the HTTP instrumentation
 * patch `node:http` under ESM: the module hook must be registered before the first import of
 * `http` that it should see. Application code never starts the SDK; it only reads the handle
 * (`getTelemetry()`) for `/metrics` and shutdown.
 */
import { register } from 'node:module';
import { readFileSync } from 'node:fs';
import { ConfigError, loadTelemetryConfig, PROJECT_ROOT } from '../src/config.ts';

let config;
try {
  config = loadTelemetryConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(JSON.stringify({ level: 'error', msg: `configuration error: ${err.message}`, variable: err.variable }));
  process.exit(1);
}

if (!config.sdkDisabled && !config.tracesExporters.includes('none')) {
  // Only the http modules are wrapped: the hook costs nothing for every other import.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, {
    data: { include: ['http', 'node:http', 'https', 'node:https'] },
  });
}

const { version } = JSON.parse(readFileSync(`${PROJECT_ROOT}/package.json`, 'utf8')) as { version: string };
// Imported after the hook is registered (see above).
const { startTelemetry } = await import('./sdk.ts');
await startTelemetry(config, { serviceVersion: version });
