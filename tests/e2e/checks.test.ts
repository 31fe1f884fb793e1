import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/timeout.js';
import { Checks } from '../../src/checks/checks.js';
import { BYTES_PER_MB } from '../../src/checks/memory-policy.js';
import { checkSettings, type CheckSettings } from '../../src/checks/settings.js';
import { listEvents } from '../../src/db/events.js';
import type { InstanceEvent } from '../../src/domain/instance.js';
import type { FleetEventMap } from '../../src/supervisor/event-bus.js';
import { Fleet } from '../../src/supervisor/fleet.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createLinked, nextUpdate, testConfig, waitForStatus } from '../support/fleet.js';
import { silentLogger } from '../support/logger.js';
import { tempSessionRoot } from '../support/workers.js';

let db: TestDatabase;
const root = tempSessionRoot();
let fleet: Fleet | undefined;
let checks: Checks | undefined;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
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

const MINUTE = 60_000;

/**
 * Page loads get the product's budget rather than the suite's short one: on a loaded two-core
 * machine a boot can take 15 s, and a boot that times out here would be a recovery failure the
 * test did not ask for.
 */
const PATIENT = { WEB_LOAD_TIMEOUT_MS: '60000', WORKER_START_TIMEOUT_MS: '90000' };

async function startFleet(overrides: Record<string, string> = {}): Promise<Fleet> {
  fleet = new Fleet({ config: testConfig(db.url, root, { ...PATIENT, ...overrides }), pool: db.pool, log: silentLogger });
  await fleet.start();
  return fleet;
}

/** Health every second from the start; the other loops slow (they tick at most once in a test) unless a test says otherwise. */
function startChecks(f: Fleet, tune: (s: CheckSettings) => CheckSettings = (s) => s): Checks {
  const base = checkSettings(testConfig(db.url, root, PATIENT));
  const settings = tune({
    ...base,
    healthIntervalMs: 1_000,
    healthStartDelayMs: 0,
    pingTimeoutMs: 700,
    deepIntervalMs: MINUTE,
    recoveryIntervalMs: MINUTE,
    memoryIntervalMs: MINUTE,
    memorySampleIntervalMs: MINUTE,
    recoveryTimeoutMs: 100_000,
    rules: { ...base.rules, stuckAfterMs: 3_000, zombiePingFailures: 3, maxRecoveryAttempts: 3 },
    memory: { ...base.memory, capInstanceBytes: 8_000 * BYTES_PER_MB, capFleetBytes: 32_000 * BYTES_PER_MB },
  });
  checks = new Checks({ fleet: f, log: silentLogger, settings });
  checks.start();
  return checks;
}

function healthEvents(f: Fleet, id: string): FleetEventMap['instance.health'][] {
  const seen: FleetEventMap['instance.health'][] = [];
  f.events.on('instance.health', (e) => e.instanceId === id && seen.push(e));
  return seen;
}

function nextHealth(f: Fleet, id: string, health: string, timeoutMs: number): Promise<FleetEventMap['instance.health']> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${id} was not judged ${health} within ${timeoutMs} ms (is ${f.handle(id).health}, ${f.handle(id).live.healthReason})`));
    }, timeoutMs);
    const off = f.events.on('instance.health', (e) => {
      if (e.instanceId !== id || e.health !== health) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

/** Polls the instance's health: a verdict may already stand (no event then), or a tick may be judging right now. */
async function waitForHealth(f: Fleet, id: string, health: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (f.handle(id).health !== health) {
    if (Date.now() > deadline) throw new Error(`${id} is ${f.handle(id).health} (${f.handle(id).live.healthReason}), not ${health}, after ${timeoutMs} ms`);
    await sleep(100);
  }
}

function qrsOf(f: Fleet, id: string): string[] {
  const qrs: string[] = [];
  f.events.on('qrcode.updated', (e) => e.instanceId === id && qrs.push(e.qr));
  return qrs;
}

/** The recovery steps recorded for the instance, oldest first. */
async function recoverySteps(id: string): Promise<InstanceEvent[]> {
  return (await listEvents(db.pool, id, 500)).reverse().filter((e) => e.type.startsWith('recovery.'));
}

/** The step events are appended once the step's outcome is known: wait until they say `done`. */
async function waitForSteps(id: string, done: (steps: InstanceEvent[]) => boolean, timeoutMs = 15_000): Promise<InstanceEvent[]> {
  const deadline = Date.now() + timeoutMs;
  let steps = await recoverySteps(id);
  while (!done(steps) && Date.now() < deadline) {
    await sleep(200);
    steps = await recoverySteps(id);
  }
  return steps;
}

describe('check loops on the fake WhatsApp Web', { timeout: 240_000 }, () => {
  it('calls a frozen page zombie after 3 failed pings and brings it back CONNECTED with a restart, without a QR', async () => {
    const f = await startFleet();
    const id = 'frozen';
    await createLinked(f, id);
    const verdicts = healthEvents(f, id);
    const qrs = qrsOf(f, id);
    startChecks(f);
    await waitForHealth(f, id, 'healthy');

    const zombie = nextHealth(f, id, 'zombie', 30_000);
    const back = nextUpdate(f, id, 'CONNECTED', 90_000);
    await f.simulate(id, 'freeze');
    expect((await zombie).reason).toBe('ping_failed_3x');
    await back;

    // Before the zombie verdict the failed pings read degraded, and the ladder waited for the third.
    const fromHealthy = verdicts.slice(verdicts.findIndex((v) => v.health === 'healthy'));
    expect(fromHealthy.map((v) => `${v.health}:${v.reason}`).slice(0, 3)).toEqual(['healthy:connected', 'degraded:ping_failed_1x', 'zombie:ping_failed_3x']);
    // A zombie does not answer, so a soft restart (a request to that same worker) would only wait out
    // its timeout: the ladder starts at the hard rung, and that one restart brings it back.
    const steps = await waitForSteps(id, (all) => all.at(-1)?.data?.outcome === 'succeeded');
    expect(steps.map((s) => [s.type, s.data?.outcome])).toEqual([['recovery.hard', 'succeeded']]);
    expect(steps.every((s) => s.reason === 'ping_failed_3x' && Number(s.data?.durationMs) > 0)).toBe(true);
    expect(qrs).toEqual([]);
    await waitForHealth(f, id, 'healthy');
    expect(f.handle(id).live.status).toBe('CONNECTED');
  });

  it('calls an instance held in OPENING stuck after the timeout and recovers it with a restart', async () => {
    // A start held by the page would otherwise only end at the worker start timeout.
    const f = await startFleet({ WORKER_START_TIMEOUT_MS: '150000' });
    const id = 'held';
    await createLinked(f, id);
    const qrs = qrsOf(f, id);
    // Long enough that the restarted page has certainly booted (and taken the queued hold) before
    // the verdict: a verdict during a slow launch made the recovery's own boot the held one.
    startChecks(f, (s) => ({ ...s, rules: { ...s.rules, stuckAfterMs: 15_000 } }));
    await waitForHealth(f, id, 'healthy');
    await f.simulate(id, 'nextBoots', [[{ hold: 'OPENING' }]]);

    const stuck = nextHealth(f, id, 'stuck', 60_000);
    // The operator's restart boots the page again, and that boot stays in OPENING: the start never finishes.
    const restarting = f.restart(id).catch(() => undefined);
    const verdict = await stuck;
    expect(verdict.reason).toMatch(/^stuck_in_(INITIALIZING|LOADING)_\d+s$/);
    await waitForStatus(f, id, 'CONNECTED', 90_000);
    await restarting;

    // No running worker to ask for a soft restart (its start never finished): the ladder went to the hard one.
    const steps = await waitForSteps(id, (all) => all.length >= 1);
    expect(steps.map((s) => [s.type, s.data?.requested, s.data?.outcome])).toEqual([['recovery.hard', 'soft', 'succeeded']]);
    expect(qrs).toEqual([]);
  });

  it('climbs the ladder for an instance whose every restart fails and ends corrupted, cleaned up, QR_REQUIRED', async () => {
    // A failing page load gives up after WEB_LOAD_TIMEOUT_MS: short, so the three failures take seconds.
    const f = await startFleet({ WEB_LOAD_TIMEOUT_MS: '10000' });
    const id = 'doomed';
    await createLinked(f, id);
    const verdicts = healthEvents(f, id);
    const qrs = qrsOf(f, id);
    startChecks(f);
    await f.simulate(id, 'failNextInits', [30]);

    const corrupted = nextHealth(f, id, 'corrupted', 150_000);
    await f.simulate(id, 'freeze');
    const notice = await corrupted;
    await waitForStatus(f, id, 'QR_REQUIRED', 60_000);

    const steps = await waitForSteps(id, (all) => all.length >= 4);
    // A frozen page is a zombie: no soft rung, the same number of failed restarts before the cleanup.
    expect(steps.map((s) => [s.type, s.data?.outcome])).toEqual([
      ['recovery.hard', 'failed'],
      ['recovery.hard', 'failed'],
      ['recovery.hard', 'failed'],
      ['recovery.cleanup', 'succeeded'],
    ]);
    expect(steps.map((s) => s.data?.attempt)).toEqual([1, 2, 3, 4]);
    expect(steps.every((s) => Number(s.data?.durationMs) > 0)).toBe(true);
    expect(steps.at(-1)!.severity).toBe('HIGH');
    expect(notice.reason).toBe('ping_failed_3x');
    expect(verdicts.map((v) => v.health)).toContain('zombie');
    // The saved session is gone: a new QR to scan, no phone on the instance, health still corrupted until it is linked.
    expect(qrs.length).toBeGreaterThan(0);
    expect(f.handle(id).live.wid).toBeNull();
    const events = await listEvents(db.pool, id, 500);
    expect(events.find((e) => e.type === 'health.changed' && e.data?.to === 'corrupted')?.severity).toBe('HIGH');
    await sleep(2_000);
    expect(f.handle(id).health).toBe('corrupted');
    expect((await f.row(id))?.health).toBe('corrupted');

    // Linking again ends it: CONNECTED resets the ladder and the verdict.
    await f.simulate(id, 'scan');
    await waitForStatus(f, id, 'CONNECTED', 30_000);
    await waitForHealth(f, id, 'healthy');
  });

  it('restarts an instance whose page memory grows steadily, and leaves a flat but large one alone', async () => {
    const f = await startFleet();
    await createLinked(f, 'leaky');
    await createLinked(f, 'large');
    await f.simulate('large', 'allocMb', [200]);
    await sleep(2_000);
    const alerts: FleetEventMap['memory.alert'][] = [];
    f.events.on('memory.alert', (e) => alerts.push(e));
    const largePid = f.handle('large').live.workerPid;
    const c = startChecks(f, (s) => ({
      ...s,
      memorySampleIntervalMs: 1_000,
      memoryIntervalMs: 2_000,
      memory: { ...s.memory, leak: { slopeThresholdMbPerHour: 20_000, minSamples: 6, windowMs: 14_000 } },
    }));

    const restarted = nextUpdate(f, 'leaky', 'DISCONNECTED', 90_000);
    let growing = true;
    void restarted.finally(() => (growing = false));
    const grow = (async () => {
      while (growing) {
        await f.simulate('leaky', 'allocMb', [15]).catch(() => undefined);
        await sleep(1_000);
      }
    })();
    const down = await restarted;
    await grow;
    expect(down.reason).toBe('restart');
    await waitForStatus(f, 'leaky', 'CONNECTED', 60_000);

    expect(alerts.filter((a) => a.instanceId === 'leaky').map((a) => a.level)).toEqual(['leak']);
    expect(alerts.filter((a) => a.instanceId === 'large')).toEqual([]);
    const restart = (await listEvents(db.pool, 'leaky', 200)).find((e) => e.type === 'memory.restart');
    expect(restart?.reason).toBe('restart_leak');
    expect(Number(restart?.data?.trendMbPerHour)).toBeGreaterThan(20_000);

    // The large one kept its worker; its report row: big, many samples, no leak.
    expect(f.handle('large').live.workerPid).toBe(largePid);
    const large = c.memoryReport().instances.find((i) => i.instanceId === 'large')!;
    expect(large.samples).toBeGreaterThanOrEqual(6);
    expect(large.leakSuspected).toBe(false);
    expect(large.browserPssMb).toBeGreaterThan(200);
    expect(large.workerPssMb).toBeGreaterThan(0);
  });
});
