import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/timeout.js';
import { listEvents } from '../../src/db/events.js';
import type { FleetEventMap } from '../../src/supervisor/event-bus.js';
import { Fleet } from '../../src/supervisor/fleet.js';
import { chromiumOnProfile } from '../support/processes.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createLinked, nextUpdate, testConfig, waitForStatus } from '../support/fleet.js';
import { silentLogger } from '../support/logger.js';
import { tempSessionRoot } from '../support/workers.js';

let db: TestDatabase;
const root = tempSessionRoot();
let fleet: Fleet | undefined;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
});
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
});
afterAll(async () => {
  await db?.drop();
});

async function startFleet(): Promise<Fleet> {
  fleet = new Fleet({ config: testConfig(db.url, root), pool: db.pool, log: silentLogger });
  await fleet.start();
  return fleet;
}

const chromiumOf = (id: string) => chromiumOnProfile(root, id);

describe('fleet on the fake WhatsApp Web', { timeout: 180_000 }, () => {
  it('boots 3 enabled instances with saved sessions back to CONNECTED without a QR, and leaves the disabled one down', async () => {
    const first = await startFleet();
    for (const id of ['boot-a', 'boot-b', 'boot-c', 'boot-off']) await createLinked(first, id);
    await first.disable('boot-off');
    await first.stop();

    const second = await startFleet();
    const qrs: string[] = [];
    second.events.on('qrcode.updated', (e) => qrs.push(e.instanceId));
    await second.rehydrated;
    for (const id of ['boot-a', 'boot-b', 'boot-c']) await waitForStatus(second, id, 'CONNECTED');
    expect(qrs).toEqual([]);
    expect(second.handle('boot-off').hasWorker).toBe(false);
    expect(second.handle('boot-off').live.status).toBe('DISCONNECTED');

    // Rows are written behind the live status (in order, asynchronously): wait for the last write.
    const expected = [
      ['boot-a', true, 'CONNECTED'],
      ['boot-b', true, 'CONNECTED'],
      ['boot-c', true, 'CONNECTED'],
      ['boot-off', false, 'DISCONNECTED'],
    ];
    const deadline = Date.now() + 10_000;
    let rows = (await second.rows())!;
    while (JSON.stringify(rows.map((r) => [r.id, r.enabled, r.connectionStatus])) !== JSON.stringify(expected) && Date.now() < deadline) {
      await sleep(100);
      rows = (await second.rows())!;
    }
    expect(rows.map((r) => [r.id, r.enabled, r.connectionStatus])).toEqual(expected);
    const events = (await listEvents(db.pool, 'boot-a', 100)).reverse();
    const afterBoot = events.slice(events.findIndex((e) => e.reason === 'rehydrate'));
    // A restore is exactly: queued, started, (loading,) connected — no QR, no disconnect on the way.
    const statuses = afterBoot.flatMap((e) => (e.toStatus ? [e.toStatus] : []));
    expect(statuses.join(' ')).toMatch(/^RECONNECTING INITIALIZING (LOADING )*CONNECTED$/);
    expect(chromiumOf('boot-off')).toEqual([]);
  });

  it.each([
    ['its Chromium', (f: Fleet, id: string) => f.handle(id).live.browserPid],
    ['its worker', (f: Fleet, id: string) => f.handle(id).live.workerPid],
  ])('is CONNECTED again without a QR after a SIGKILL of %s, detected at once', async (_what, pidOf) => {
    const f = await startFleet();
    const id = `kill-${Math.random().toString(36).slice(2, 8)}`;
    await createLinked(f, id);
    const updates: FleetEventMap['connection.update'][] = [];
    f.events.on('connection.update', (e) => e.instanceId === id && updates.push(e));
    const qrs: string[] = [];
    f.events.on('qrcode.updated', (e) => qrs.push(e.instanceId));

    const pid = pidOf(f, id);
    expect(pid).toBeGreaterThan(0);
    const wentDown = nextUpdate(f, id, 'DISCONNECTED', 5_000);
    const cameBack = nextUpdate(f, id, 'CONNECTED', 60_000);
    const killedAt = Date.now();
    process.kill(pid!, 'SIGKILL');
    await wentDown;
    await cameBack;

    const down = updates.find((u) => u.status === 'DISCONNECTED')!;
    expect(down.at.getTime() - killedAt).toBeLessThan(1_000);
    expect(qrs).toEqual([]);
    const events = (await listEvents(db.pool, id, 50)).reverse();
    const crash = events.find((e) => e.toStatus === 'DISCONNECTED' && e.fromStatus === 'CONNECTED')!;
    expect(new Date(String(crash.data?.detectedAt)).getTime() - killedAt).toBeLessThan(1_000);
    // one browser for the profile, the new one
    await sleep(1_000);
    expect(chromiumOf(id)).toHaveLength(1);
  });

  it('does not retry after a LOGOUT: DISCONNECTED with the reason, no worker, a notification', async () => {
    const f = await startFleet();
    await createLinked(f, 'logged-out');
    const notices: string[] = [];
    f.events.on('logout.instance', (e) => notices.push(e.reason));
    await f.simulate('logged-out', 'logout');
    await waitForStatus(f, 'logged-out', 'DISCONNECTED', 10_000);
    await sleep(2_000);
    const live = f.handle('logged-out').live;
    expect(live).toMatchObject({ status: 'DISCONNECTED', reason: 'LOGOUT', blockedBy: 'LOGOUT' });
    expect(f.handle('logged-out').hasWorker).toBe(false);
    expect(notices).toEqual(['LOGOUT']);
    expect(chromiumOf('logged-out')).toEqual([]);
  });
});
