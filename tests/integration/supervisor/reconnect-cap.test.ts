import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEvents } from '../../../src/db/events.js';
import { Fleet } from '../../../src/supervisor/fleet.js';
import { WorkerHandle } from '../../../src/worker/handle.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { testConfig, waitForStatus } from '../../support/fleet.js';
import { silentLogger } from '../../support/logger.js';
import { tempSessionRoot } from '../../support/workers.js';

const FAILING_WORKER = fileURLToPath(new URL('../../support/fixtures/worker-exits-at-start.ts', import.meta.url));

let db: TestDatabase;
let fleet: Fleet;
beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
});
afterAll(async () => {
  await fleet?.stop();
  await db?.drop();
});

describe('a worker that keeps failing to start', () => {
  it('is retried with backoff up to the cap, then reconnect.failed, DISCONNECTED, reason recorded', async () => {
    const root = tempSessionRoot();
    const config = testConfig(db.url, root, { RECONNECT_MAX_ATTEMPTS: '3', RECONNECT_BASE_DELAY_MS: '50', RECONNECT_JITTER_MS: '0' });
    let launches = 0;
    fleet = new Fleet({
      config,
      pool: db.pool,
      log: silentLogger,
      launch: (instanceId, listener) => {
        launches += 1;
        return WorkerHandle.start({ init: { instanceId } as never, startTimeoutMs: 10_000, ...listener, entry: FAILING_WORKER });
      },
    });
    await fleet.start();
    const failed = new Promise((resolve) => fleet.events.once('reconnect.failed', resolve));
    await fleet.create('always-fails');
    await failed;
    await waitForStatus(fleet, 'always-fails', 'DISCONNECTED', 5_000);

    expect(launches).toBe(4); // the first start and three reconnects
    const row = await fleet.row('always-fails').then((r) => r!);
    expect(row).toMatchObject({ connectionStatus: 'DISCONNECTED', statusReason: 'max_attempts', reconnectAttempts: 3 });
    const events = (await listEvents(db.pool, 'always-fails', 100)).reverse();
    const scheduled = events.filter((e) => e.toStatus === 'RECONNECTING').map((e) => e.data);
    expect(scheduled).toEqual([
      { attempt: 1, delayMs: 50 },
      { attempt: 2, delayMs: 75 },
      { attempt: 3, delayMs: 113 },
    ]);
    expect(events.at(-1)).toMatchObject({ reason: 'max_attempts', severity: 'HIGH', category: 'RECONNECT' });
    expect(fleet.handle('always-fails').hasWorker).toBe(false);
  });
});
