import { describe, expect, it } from 'vitest';
import { watchServerPauses } from '../../../scripts/bench/support/server-pauses.js';

/** Short-lived garbage, enough for several young-generation collections; returns how many objects it made. */
function makeGarbage(): number {
  let kept: object[] = [];
  let made = 0;
  for (let i = 0; i < 2_000_000; i++) {
    kept.push({ i, s: `item ${i}` });
    made++;
    if (kept.length === 1_000) kept = [];
  }
  return made;
}

describe('the API bench’s server pauses', () => {
  it('counts the garbage collections made while it watched, and reads the main thread’s run-queue wait', async () => {
    const watch = watchServerPauses();
    expect(makeGarbage()).toBe(2_000_000);
    await new Promise((r) => setImmediate(r));
    const seen = watch.stop();
    expect(seen.gc.count).toBeGreaterThan(0);
    expect(seen.gc.totalMs).toBeGreaterThan(0);
    expect(seen.gc.maxMs).toBeLessThanOrEqual(seen.gc.totalMs);
    expect(seen.waitedForCoreMsPerSec).toBeGreaterThanOrEqual(0);
  });

  it('sees nothing of the collections before it started or after it stopped', async () => {
    const watch = watchServerPauses();
    const seen = watch.stop();
    expect(makeGarbage()).toBe(2_000_000);
    // Past the observer's own delivery (queued with setImmediate).
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.gc.count).toBe(0);
  });
});
