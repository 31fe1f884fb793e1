import { afterEach, describe, expect, it } from 'vitest';
import { Fleet } from '../../../src/supervisor/fleet.js';
import type { WorkerLauncher } from '../../../src/supervisor/instance/handle.js';
import { createTestDatabase, seedInstances, type TestDatabase } from '../../support/db.js';
import { standInLauncher, testConfig, waitForStatus } from '../../support/fleet.js';
import { silentLogger } from '../../support/logger.js';
import { tempSessionRoot } from '../../support/workers.js';

let db: TestDatabase | undefined;
let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  await db?.drop();
});

describe('boot pacing, as observed on the real fleet', () => {
  it('brings saved instances back REHYDRATE_CONCURRENCY at a time, launches at least REHYDRATE_STAGGER_MS apart', async () => {
    db = await createTestDatabase({ migrated: true });
    const ids = Array.from({ length: 6 }, (_, i) => `boot-${i}`);
    await seedInstances(db.pool, ids);
    const launches: number[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    // Each launch takes 600 ms (a stand-in worker's handshake plus a pause), like a browser start.
    const launch: WorkerLauncher = async (id, listener) => {
      launches.push(Date.now());
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      try {
        await new Promise((r) => setTimeout(r, 600));
        return await standInLauncher(id, listener);
      } finally {
        inFlight--;
      }
    };
    const config = testConfig(db.url, tempSessionRoot(), { REHYDRATE_CONCURRENCY: '2', REHYDRATE_STAGGER_MS: '300', LAUNCH_CONCURRENCY: '4' });
    fleet = new Fleet({ config, pool: db.pool, log: silentLogger, launch });
    await fleet.start();
    await fleet.rehydrated;
    for (const id of ids) await waitForStatus(fleet, id, 'QR_REQUIRED', 15_000);

    expect(launches).toHaveLength(6);
    expect(mostInFlight).toBe(2);
    // The stagger spaces the starts; each then passes the start gate (a fresh memory reading, a
    // few async hops), so a launch may land some tens of ms off its slot, never a stagger early.
    const gaps = launches.slice(1).map((t, i) => t - launches[i]!);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(200);
    expect(launches.at(-1)! - launches[0]!).toBeGreaterThanOrEqual(5 * 300 - 60);
  });
});
