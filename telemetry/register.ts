/**
 * The telemetry preload: `node --import ./telemetry/register.ts src/server.ts`.
 *
 * It runs before any application module is loaded, so the SDK (meter and tracer providers,
 * readers, runtime metrics) is registered globally before the app asks the API for a meter or a
 * tracer. Application code never starts the SDK; it only reads the handle (`getTelemetry()`) for
 * `/metrics`, the pre-aggregated instruments and shutdown.
 */
import { readFileSync } from 'node:fs';
import { loadOrExit, loadServiceConfig, loadTelemetryConfig, PROJECT_ROOT } from '../src/config.ts';
import { startTelemetry } from './sdk.ts';

const config = loadOrExit(() => loadTelemetryConfig());
// Checked here too, so a bad service variable fails before any telemetry starts.
loadOrExit(() => loadServiceConfig());

const { version } = JSON.parse(readFileSync(`${PROJECT_ROOT}/package.json`, 'utf8')) as { version: string };
await startTelemetry(config, { serviceVersion: version });
