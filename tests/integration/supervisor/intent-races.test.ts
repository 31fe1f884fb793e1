import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../../lib/timeout.js';
import { Checks } from '../../../src/checks/checks.js';
import type { Config } from '../../../src/config/index.js';
import { Fleet } from '../../../src/supervisor/fleet.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { quietCheckSettings, standInLauncher, testConfig, waitForStatus } from '../../support/fleet.js';
import { silentLogger } from '../../support/logger.js';
import { tempSessionRoot } from '../../support/workers.js';

let db: TestDatabase;
let config: Config;
let fleet: Fleet | undefined;
let checks: Checks | undefined;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  config = testConfig(db.url, tempSessionRoot());
});
afterEach(async () => {
  await checks?.stop();
  checks?.close();
  checks = undefined;
  await fleet?.stop();
  fleet = undefined;
});
afterAll(async () => {
  await db?.drop();
});

/** A fleet of stand-ins on the test database, started; afterEach stops it. */
async function startedFleet(): Promise<Fleet> {
  const f = new Fleet({ config, pool: db.pool, log: silentLogger, launch: standInLauncher });
  await f.start();
  return f;
}

/**
 * An enabled instance without a worker: `qr_timeout`, its QR wait ended (what a QR request
 * starts); `shutdown`, its worker stopped and it is DISCONNECTED (what the recovery loop starts).
 */
async function idleInstance(id: string, how: 'qr_timeout' | 'shutdown'): Promise<Fleet> {
  fleet ??= await startedFleet();
  await fleet.create(id);
  await waitForStatus(fleet, id, 'QR_REQUIRED');
  await fleet.handle(id).stop(how);
  expect(fleet.handle(id).hasWorker).toBe(false);
  return fleet;
}

const quietChecks = (f: Fleet) =>
  new Checks({ fleet: f, log: silentLogger, settings: quietCheckSettings(config) });

/**
 * Makes `read` (a method of the fleet that reads rows) answer what the database held, but only
 * after the instance has been disabled: the read was taken just before the disable committed.
 */
function disableAfterRead<K extends 'row' | 'rows'>(f: Fleet, method: K, id: string): { disabled: () => Promise<void> } {
  const real = f[method].bind(f) as (...args: unknown[]) => Promise<unknown>;
  let disabling: Promise<void> | null = null;
  (f as unknown as Record<K, unknown>)[method] = async (...args: unknown[]) => {
    const answer = await real(...args);
    if (!disabling) {
      disabling = f.disable(id);
      await disabling;
    }
    return answer;
  };
  return { disabled: () => disabling ?? Promise.reject(new Error(`${method} was never read`)) };
}

describe('a start decided on a row read just before a disable', () => {
  it('a QR request reads the row again and refuses: 409 INSTANCE_DISABLED, no worker', async () => {
    const f = await idleInstance('race-qr', 'qr_timeout');
    const race = disableAfterRead(f, 'row', 'race-qr');
    await expect(f.requestQr('race-qr')).rejects.toMatchObject({ code: 'INSTANCE_DISABLED' });
    await race.disabled();
    await sleep(300);
    expect(f.handle('race-qr').hasWorker).toBe(false);
    expect((await db.pool.query('SELECT enabled FROM instances WHERE id = ?', ['race-qr']))[0]).toEqual([{ enabled: 0 }]);
  });

  it('the recovery loop leaves the instance to its next tick instead of starting it', async () => {
    const f = await idleInstance('race-rec', 'shutdown');
    checks = quietChecks(f);
    const race = disableAfterRead(f, 'rows', 'race-rec');
    await checks.runNow('recovery');
    await race.disabled();
    await sleep(300);
    expect(f.handle('race-rec').hasWorker).toBe(false);
    // The next tick reads the row again: disabled, nothing to start.
    await checks.runNow('recovery');
    expect(f.handle('race-rec').hasWorker).toBe(false);
  });

  it('without a disable in between, the same idle instances are started by each', async () => {
    const f = await idleInstance('calm-qr', 'qr_timeout');
    await f.requestQr('calm-qr');
    expect(f.handle('calm-qr').hasWorker).toBe(true);
    await idleInstance('calm-rec', 'shutdown');
    checks = quietChecks(f);
    await checks.runNow('recovery');
    expect(f.handle('calm-rec').hasWorker).toBe(true);
  });
});

/**
 * Runs `between` once, right after the first write of `enabled` (the operator's intent) that the
 * fleet makes: the other intent then comes between that write and what follows it.
 */
function afterIntentWrite(f: Fleet, enabled: boolean, between: () => Promise<void>): void {
  const target = f as unknown as { setEnabled: (id: string, enabled: boolean) => Promise<void> };
  const real = target.setEnabled.bind(f);
  let done = false;
  target.setEnabled = async (id, value) => {
    await real(id, value);
    if (value === enabled && !done) {
      done = true;
      await between();
    }
  };
}

const enabledInDb = async (id: string) => ((await db.pool.query('SELECT enabled FROM instances WHERE id = ?', [id]))[0] as Array<{ enabled: number }>)[0]!.enabled === 1;

describe('an enable and a disable at once', () => {
  it('a disable that comes between an enable and its start wins: the instance ends disabled and stopped', async () => {
    const f = (fleet = await startedFleet());
    await f.create('both-1', { enabled: false, webhookUrl: null });
    afterIntentWrite(f, true, () => f.disable('both-1'));
    await f.enable('both-1');
    await sleep(300);
    expect(await enabledInDb('both-1')).toBe(false);
    expect(f.handle('both-1').hasWorker).toBe(false);
  });

  it('an enable that comes between a disable and its stop wins: the instance ends enabled and running', async () => {
    const f = (fleet = await startedFleet());
    await f.create('both-2');
    await waitForStatus(f, 'both-2', 'QR_REQUIRED');
    afterIntentWrite(f, false, () => f.enable('both-2'));
    await f.disable('both-2');
    await sleep(300);
    expect(await enabledInDb('both-2')).toBe(true);
    expect(f.handle('both-2').hasWorker).toBe(true);
  });
});

describe('a start between the boot queueing an instance and marking it', () => {
  it('is not moved back to RECONNECTING: its status stays its own, and the boot leaves it to that start', async () => {
    const f = (fleet = await startedFleet());
    await f.create('boot-1');
    await waitForStatus(f, 'boot-1', 'QR_REQUIRED');
    const handle = f.handle('boot-1');
    handle.queueForBoot();
    // What the recovery loop or an operator did before the boot got to this instance.
    await handle.start('restart', true);
    await handle.markRehydrating();
    expect(handle.live.status).toBe('QR_REQUIRED');
    expect(handle.live.bootQueued).toBe(false);
    // A queued instance no start came to is marked as before.
    await handle.stop('shutdown');
    handle.queueForBoot();
    await handle.markRehydrating();
    expect(handle.live.status).toBe('RECONNECTING');
  });
});

