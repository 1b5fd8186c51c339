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
import { loadOrExit, loadServiceConfig, loadTelemetryConfig, PROJECT_ROOT } from '../src/config.ts';

const config = loadOrExit(() => loadTelemetryConfig());
// Checked here too, so a bad service variable fails before any telemetry starts.
loadOrExit(() => loadServiceConfig());

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
