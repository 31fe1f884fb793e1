import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet } from '../../src/supervisor/fleet.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createLinked, testConfig, waitForStatus } from '../support/fleet.js';
import { silentLogger } from '../support/logger.js';
import { chromiumOnProfile } from '../support/processes.js';
import { tempSessionRoot } from '../support/workers.js';

/** Behaviours the README promises, each on the real fleet, real workers and the fake WhatsApp Web. */

let db: TestDatabase;
let fleet: Fleet;
let sessionRoot: string;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  sessionRoot = tempSessionRoot();
  // Reconnects come within 200 ms: an instance that should wait for a human and does not is back within the waits below.
  const config = testConfig(db.url, sessionRoot, { QR_IDLE_TIMEOUT_MS: '6000', RECONNECT_BASE_DELAY_MS: '100', RECONNECT_JITTER_MS: '100' });
  fleet = new Fleet({ config, pool: db.pool, log: silentLogger });
  await fleet.start();
});
afterAll(async () => {
  await fleet?.stop();
  await db?.drop();
});

describe('README behaviours', { timeout: 120_000 }, () => {
  it('stops a worker left waiting for its QR past QR_IDLE_TIMEOUT_MS, and starts it again with a new QR when the QR is asked for', async () => {
    await fleet.create('idle-qr', { enabled: true, webhookUrl: null });
    await waitForStatus(fleet, 'idle-qr', 'QR_REQUIRED');
    // The QR can come before the launch has returned its worker: wait for the pid (well inside
    // QR_IDLE_TIMEOUT_MS, after which the worker is stopped on purpose).
    const shownAt = Date.now();
    while (fleet.handle('idle-qr').live.workerPid === null && Date.now() - shownAt < 3_000) await sleep(20);
    const firstPid = fleet.handle('idle-qr').live.workerPid;
    expect(firstPid).toBeGreaterThan(0);
    const deadline = Date.now() + 20_000;
    while (fleet.handle('idle-qr').hasWorker && Date.now() < deadline) await sleep(100);
    expect(fleet.handle('idle-qr').hasWorker).toBe(false);
    expect(fleet.handle('idle-qr').live).toMatchObject({ status: 'QR_REQUIRED', reason: 'qr_timeout', workerPid: null });
    expect(chromiumOnProfile(sessionRoot, 'idle-qr')).toEqual([]);

    await fleet.requestQr('idle-qr');
    // It still reads QR_REQUIRED while idle: what shows the restart is a worker again, a new one.
    const askedAt = Date.now();
    while (fleet.handle('idle-qr').live.workerPid === null && Date.now() - askedAt < 20_000) await sleep(50);
    await waitForStatus(fleet, 'idle-qr', 'QR_REQUIRED');
    const live = fleet.handle('idle-qr').live;
    expect(live.workerPid).toBeGreaterThan(0);
    expect(live.workerPid).not.toBe(firstPid);
    expect(live.reason).not.toBe('qr_timeout');
  });

  it.each(['TOS_BLOCK', 'SMB_TOS_BLOCK', 'BANNED'])('never reconnects after a %s disconnect: it waits for a human, with no worker', async (state) => {
    const id = `block-${state.toLowerCase().replaceAll('_', '-')}`;
    await createLinked(fleet, id);
    await fleet.simulate(id, 'setState', [state]);
    await waitForStatus(fleet, id, 'DISCONNECTED');
    // Many reconnect delays pass: a retry would have started a worker by now.
    await sleep(3_000);
    const live = fleet.handle(id).live;
    expect(live).toMatchObject({ status: 'DISCONNECTED', blockedBy: state, workerPid: null });
    expect(fleet.handle(id).hasWorker).toBe(false);
    expect(chromiumOnProfile(sessionRoot, id)).toEqual([]);
  });
});
