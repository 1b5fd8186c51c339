import { describe, expect, it } from 'vitest';
import { warmUpRender } from '../telemetry/warm-up.ts';

describe('warmUpRender', () => {
  it('renders the number of times asked, one after the other', async () => {
    let inFlight = 0;
    let calls = 0;
    const render = async () => {
      expect(inFlight).toBe(0);
      inFlight++;
      await new Promise((r) => setImmediate(r));
      inFlight--;
      calls++;
      return '# EOF\n';
    };
    expect((await warmUpRender(render, { renders: 25 })).renders).toBe(25);
    expect(calls).toBe(25);
    expect((await warmUpRender(render, { renders: 0 })).renders).toBe(0);
    expect(calls).toBe(25);
  });

  it('stops at maxMs however many renders were asked', async () => {
    const slow = () => new Promise<string>((r) => setTimeout(() => r(''), 20));
    const { renders, ms } = await warmUpRender(slow, { renders: 1_000_000, maxMs: 100 });
    expect(renders).toBeGreaterThan(0);
    expect(renders).toBeLessThan(20);
    expect(ms).toBeGreaterThanOrEqual(100);
  });
});
