/**
 * Preload of `bench/runtime-toggle.ts`: the two pieces of the runtime metrics that work between
 * collections, made as the instrumentation makes them (an event-loop-delay monitor sampling every
 * 10 ms, a PerformanceObserver of GC entries), switched on and off while the server runs. On
 * SIGUSR2 it reads the wanted mode (`none`, `eld`, `gc`, `eld+gc`) from the file named by
 * RUNTIME_TOGGLE_FILE, and writes beside it (`<file>.seen`) how many event-loop-delay samples and
 * GC entries it has recorded so far, so the driver can tell the switches reached the server.
 */
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.env.RUNTIME_TOGGLE_FILE;
if (!file) throw new Error('RUNTIME_TOGGLE_FILE is not set');
const eld = monitorEventLoopDelay({ resolution: 10 });
let gcEntries = 0;
let gcSeconds = 0;
const gc = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcEntries++;
    gcSeconds += entry.duration / 1000;
  }
});
let eldSamples = 0;
let gcOn = false;
process.on('SIGUSR2', () => {
  const mode = readFileSync(file, 'utf8').trim();
  eldSamples += eld.count;
  eld.reset();
  writeFileSync(`${file}.seen`, JSON.stringify({ eldSamples, gcEntries, gcSeconds }));
  if (mode.includes('eld')) eld.enable();
  else eld.disable();
  const wantGc = mode.includes('gc');
  if (wantGc && !gcOn) gc.observe({ entryTypes: ['gc'] });
  if (!wantGc && gcOn) gc.disconnect();
  gcOn = wantGc;
});
