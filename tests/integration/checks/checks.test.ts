import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../../lib/timeout.js';
import { createApp } from '../../../src/api/app.js';
import { closeServer, listen } from '../../../src/api/server.js';
import { Checks } from '../../../src/checks/checks.js';
import { checkSettings, type CheckSettings } from '../../../src/checks/settings.js';
import type { Config } from '../../../src/config/index.js';
import { listEvents } from '../../../src/db/events.js';
import { Fleet } from '../../../src/supervisor/fleet.js';
import type { WorkerLauncher } from '../../../src/supervisor/instance/handle.js';
import { WorkerHandle } from '../../../src/worker/handle.js';
import type { WorkerInit } from '../../../src/worker/protocol.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { standInLauncher, testConfig, waitForStatus } from '../../support/fleet.js';
import { silentLogger } from '../../support/logger.js';
import { tempSessionRoot } from '../../support/workers.js';
import { Messages } from '../../../src/messages/messages.js';

const SLOW_PING_WORKER = fileURLToPath(new URL('./fixtures/slow-ping-worker.ts', import.meta.url));
const slowPingLauncher: WorkerLauncher = (instanceId, listener) =>
  WorkerHandle.start({ init: { instanceId } as WorkerInit, startTimeoutMs: 15_000, ...listener, entry: SLOW_PING_WORKER });

const MINUTE = 60_000;
let db: TestDatabase;
const root = tempSessionRoot();
let fleet: Fleet | undefined;
let checks: Checks | undefined;
let config: Config;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  config = testConfig(db.url, root);
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

async function startFleet(launch: WorkerLauncher): Promise<Fleet> {
  fleet = new Fleet({ config, pool: db.pool, log: silentLogger, launch });
  await fleet.start();
  return fleet;
}

/** Every loop slow (ticks are driven with runNow) unless a test says otherwise. */
function createChecks(f: Fleet, tune: Partial<CheckSettings> = {}): Checks {
  checks = new Checks({
    fleet: f,
    log: silentLogger,
    settings: {
      ...checkSettings(config),
      healthIntervalMs: MINUTE,
      healthStartDelayMs: 0,
      deepIntervalMs: MINUTE,
      recoveryIntervalMs: MINUTE,
      memoryIntervalMs: MINUTE,
      memorySampleIntervalMs: MINUTE,
      ...tune,
    },
  });
  return checks;
}

describe('check loops with stand-in workers', { timeout: 60_000 }, () => {
  it('skips a health tick that falls due while the previous one still runs, and never pings a worker twice at once', async () => {
    const f = await startFleet(slowPingLauncher);
    await f.create('slow');
    await waitForStatus(f, 'slow', 'CONNECTED', 15_000);
    // One instance at a time, pings answered after 2.5 s, a tick due every second.
    const c = createChecks(f, { healthIntervalMs: 1_000, pingTimeoutMs: 5_000, concurrency: 1 });
    c.start();
    await sleep(8_000);
    await c.stop();

    const { runs, skips, errors, running } = c.stats().loops.health;
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(skips).toBeGreaterThanOrEqual(runs);
    expect(errors).toBe(0);
    expect(running).toBe(false);
    expect(f.handle('slow').live.recentErrors).toEqual([]);
    expect(f.handle('slow').health).toBe('healthy');
  });

  it('starts an enabled instance that has no worker, unless it is disabled or blocked (memory refusals are the start gate\'s: tests/integration/supervisor/admission.test.ts)', async () => {
    const f = await startFleet(standInLauncher);
    for (const id of ['idle', 'off', 'gone']) {
      await f.create(id);
      await waitForStatus(f, id, 'QR_REQUIRED', 15_000);
    }
    await f.disable('off');
    await f.simulate('gone', 'scan');
    await waitForStatus(f, 'gone', 'CONNECTED', 15_000);
    await f.simulate('gone', 'logout');
    await waitForStatus(f, 'gone', 'DISCONNECTED', 15_000);
    // Stopped behind the fleet's back (as a lost event would leave it): enabled, no worker, no reconnect pending.
    await f.handle('idle').stop('restart');
    const c = createChecks(f);

    await c.runNow('recovery');
    expect(f.handle('idle').hasWorker).toBe(true);
    await waitForStatus(f, 'idle', 'QR_REQUIRED', 15_000);
    expect(f.handle('off').hasWorker).toBe(false);
    expect(f.handle('gone').hasWorker).toBe(false);
    expect(f.handle('gone').live.blockedBy).toBe('LOGOUT');
  });

  it('judges an instance the moment it is back to CONNECTED, so the verdict that sent it up the ladder does not outlive the recovery', async () => {
    // Found by the chaos run: a recovered instance showed `zombie` until the next health tick.
    const f = await startFleet(standInLauncher);
    await f.create('back');
    await waitForStatus(f, 'back', 'QR_REQUIRED', 15_000);
    createChecks(f);
    await f.handle('back').setHealth('zombie', 'ping_failed_3x');
    await f.simulate('back', 'scan');
    await waitForStatus(f, 'back', 'CONNECTED', 15_000);
    // No loop has ticked (all at one minute, never started): only the CONNECTED event judged it.
    const deadline = Date.now() + 5_000;
    while (f.handle('back').health !== 'healthy' && Date.now() < deadline) await sleep(20);
    expect(f.handle('back').health).toBe('healthy');
    // The live health changes first; its event is written just after.
    const recorded = async () => (await listEvents(db.pool, 'back', 10)).find((e) => e.type === 'health.changed')?.data;
    while (JSON.stringify(await recorded()).includes('"to":"zombie"') && Date.now() < deadline) await sleep(20);
    expect(await recorded()).toMatchObject({ from: 'zombie', to: 'healthy' });
  });

  it('corrects a row whose status disagrees with the live one and records the discrepancy', async () => {
    const f = await startFleet(standInLauncher);
    await f.create('drift', { enabled: false });
    await db.pool.query("UPDATE instances SET connection_status = 'CONNECTED' WHERE id = 'drift'");
    await sleep(2_500); // the live status must have settled: younger ones may still be on their way to the row
    const c = createChecks(f);
    await c.runNow('recovery');

    expect((await f.row('drift'))!.connectionStatus).toBe('DISCONNECTED');
    const fix = (await listEvents(db.pool, 'drift', 10)).find((e) => e.type === 'status.reconciled');
    expect(fix).toMatchObject({ fromStatus: 'CONNECTED', toStatus: 'DISCONNECTED' });
    expect(fix?.data?.discrepancy).toMatchObject({ database: 'CONNECTED' });
  });

  it('answers POST /api/health/check with verdicts and GET /api/memory/report from the current measurement', async () => {
    const f = await startFleet(standInLauncher);
    await f.create('api-a');
    await waitForStatus(f, 'api-a', 'QR_REQUIRED', 15_000);
    await f.simulate('api-a', 'scan');
    await waitForStatus(f, 'api-a', 'CONNECTED', 15_000);
    await f.create('api-off', { enabled: false });
    const c = createChecks(f);
    const app = createApp({ pool: db.pool, fleet: f, config, log: silentLogger, version: 'test', startedAt: new Date(), shuttingDown: () => false, checks: c, messages: new Messages({ fleet: f, pool: db.pool, config: config, log: silentLogger }) });
    const server = await listen(app, '127.0.0.1', 0);
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const call = async (method: string, path: string) => {
      const res = await fetch(`${base}${path}`, { method, headers: { 'x-api-key': config.apiKey ?? '' } });
      return { status: res.status, json: (await res.json()) as any };
    };
    try {
      const checked = await call('POST', '/api/health/check?deep=1');
      expect(checked.status).toBe(200);
      expect(checked.json.ran).toEqual({ health: true, deep: true });
      const byId = Object.fromEntries(checked.json.verdicts.map((v: any) => [v.instanceId, v]));
      expect(byId['api-a']).toMatchObject({ status: 'CONNECTED', health: 'healthy', healthReason: 'connected', consecutivePingFailures: 0, recovering: false });
      expect(byId['api-a'].lastPing).toMatchObject({ ok: true, state: 'CONNECTED' });
      expect(byId['api-a'].deep).toMatchObject({ storePresent: true, socketState: 'CONNECTED' });
      expect(byId['api-off']).toMatchObject({ health: 'disconnected', healthReason: 'disabled', lastPing: null });
      expect((await call('POST', '/api/health/check?deep=maybe')).status).toBe(400);

      // Before any sample of the loop: the report is the start gate's measurement, taken now, so a
      // running instance reads running with its figures (not "not running" / 0 MiB until the next sample).
      const before = await call('GET', '/api/memory/report');
      const fresh = before.json.instances.find((i: any) => i.instanceId === 'api-a');
      expect(fresh).toMatchObject({ running: true, state: 'running', admission: null, samples: 0 });
      expect(fresh.workerPssMb).toBeGreaterThan(0);
      expect(before.json.instances.find((i: any) => i.instanceId === 'api-off')).toMatchObject({ running: false, state: 'stopped' });
      // The fleet of this file also brings back the enabled instances of the earlier tests: launches may be in progress.
      expect(before.json.fleet).toMatchObject({ waiting: 0, launchLimit: config.launchConcurrency });
      expect(['median', 'setting']).toContain(before.json.fleet.expectedFrom);
      expect(Date.parse(before.json.fleet.measuredAt)).toBeGreaterThan(Date.now() - 5_000);
      await c.runNow('memorySample');
      const report = await call('GET', '/api/memory/report');
      expect(report.status).toBe(200);
      const a = report.json.instances.find((i: any) => i.instanceId === 'api-a');
      expect(a).toMatchObject({ running: true, browserPssMb: null, leakSuspected: false, samples: 1 });
      expect(a.workerPssMb).toBeGreaterThan(0);
      expect(a.totalMb).toBe(a.workerPssMb);
      expect(a.pageHeapMb).toBeGreaterThan(0);
      expect(report.json.fleet).toMatchObject({ level: 'ok', capMb: config.fleetMemoryCapMb, refusingStarts: null });
      expect(report.json.supervisor.rssMb).toBeGreaterThan(0);
      expect(report.json.thresholds).toMatchObject({ instanceCapMb: config.instanceMemoryCapMb, leakSlopeMbPerHour: config.leakSlopeMbPerHour });
    } finally {
      await closeServer(server);
    }
  });
});
