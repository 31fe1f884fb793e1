import { describe, expect, it } from 'vitest';
import { watchServerPauses } from '../../../scripts/bench/support/server-pauses.js';

describe('the API bench’s server pauses', () => {
  it('counts the garbage collections made while it watched, and reads the main thread’s run-queue wait', async () => {
    const watch = watchServerPauses();
    // Enough short-lived garbage for several young-generation collections.
    let sink = 0;
    for (let i = 0; i < 2_000_000; i++) sink += [i, { i }].length;
    await new Promise((r) => setImmediate(r));
    const seen = watch.stop();
    expect(sink).toBeGreaterThan(0);
    expect(seen.gc.count).toBeGreaterThan(0);
    expect(seen.gc.totalMs).toBeGreaterThan(0);
    expect(seen.gc.maxMs).toBeLessThanOrEqual(seen.gc.totalMs);
    expect(seen.waitedForCoreMsPerSec).toBeGreaterThanOrEqual(0);
  });

  it('sees nothing of the collections before it started or after it stopped', async () => {
    const watch = watchServerPauses();
    const seen = watch.stop();
    for (let i = 0; i < 2_000_000; i++) void [i, { i }];
    await new Promise((r) => setImmediate(r));
    expect(seen.gc.count).toBe(0);
  });
});
