import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sleep } from '../../../lib/timeout.js';
import { instanceView } from '../../../src/api/views.js';
import { Checks } from '../../../src/checks/checks.js';
import type { SamplerProc } from '../../../src/checks/memory-sampler.js';
import type { Config } from '../../../src/config/index.js';
import { Fleet } from '../../../src/supervisor/fleet.js';
import type { WorkerLauncher } from '../../../src/supervisor/instance/handle.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { quietCheckSettings, standInLauncher, testConfig, waitForStatus } from '../../support/fleet.js';
import { capturingLogger, silentLogger } from '../../support/logger.js';
import { tempSessionRoot } from '../../support/workers.js';

const MIB = 1024 * 1024;

/** A database and a session root per test: no instance of one test is brought back by the next one's fleet. */
let db: TestDatabase;
let root: string;
let fleet: Fleet | undefined;
let checks: Checks | undefined;

beforeEach(async () => {
  db = await createTestDatabase({ migrated: true });
  root = tempSessionRoot();
});
afterEach(async () => {
  await checks?.stop();
  checks?.close();
  checks = undefined;
  await fleet?.stop();
  fleet = undefined;
  await db?.drop();
});

/** A /proc in which every process the fleet measures has `mb` MiB of PSS (the stand-ins hold no browser). */
function fakeProc(mb: () => number): SamplerProc {
  return withAsync({
    readMemory: () => ({ pssBytes: mb() * MIB, rssBytes: 2 * mb() * MIB }),
    sampleTree: () => ({ pids: [], pssBytes: 0, rssBytes: 0 }),
  });
}

/** The thread-pool readers of a fake /proc answer what its synchronous ones do. */
function withAsync(proc: Pick<SamplerProc, 'readMemory' | 'sampleTree'>): SamplerProc {
  return { ...proc, readMemoryAsync: async (pid) => proc.readMemory(pid), sampleTreeAsync: async (pid) => proc.sampleTree(pid) };
}

/** Stand-in workers whose launch is held `delayMs` after the handshake; counts launches in progress and their peak. */
function countingLauncher(delayMs: number) {
  const stats = { active: 0, peak: 0, order: [] as string[] };
  const launch: WorkerLauncher = async (id, listener) => {
    stats.active++;
    stats.peak = Math.max(stats.peak, stats.active);
    stats.order.push(id);
    try {
      const worker = await standInLauncher(id, listener);
      await sleep(delayMs);
      return worker;
    } finally {
      stats.active--;
    }
  };
  return { launch, stats };
}

async function startFleet(config: Config, launch: WorkerLauncher, proc?: SamplerProc, log = silentLogger): Promise<Fleet> {
  fleet = new Fleet({ config, pool: db.pool, log, launch, ...(proc ? { proc } : {}) });
  await fleet.start();
  return fleet;
}

async function until(what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('the start gate with the real fleet, MySQL and stand-in workers', { timeout: 90_000 }, () => {
  it('8 creates at once: never more than LAUNCH_CONCURRENCY launches in progress, the rest wait with the reason, all reach QR oldest first', async () => {
    const config = testConfig(db.url, root, { LAUNCH_CONCURRENCY: '2' });
    const { launch, stats } = countingLauncher(400);
    const logged = capturingLogger({ format: 'json', level: 'info' });
    const f = await startFleet(config, launch, undefined, logged.log);
    const ids = Array.from({ length: 8 }, (_, i) => `burst-${i}`);
    await Promise.all(ids.map((id) => f.create(id)));
    // Created in parallel: the gate's order is the order the creates reached it.
    const waiting = f.list().filter((h) => h.live.admission);
    expect(waiting.length).toBeGreaterThanOrEqual(4);
    for (const h of waiting) {
      expect(h.live.admission).toMatchObject({ waiting: true, wait: 'launches', reason: '2 launch(es) in progress, at most 2 (LAUNCH_CONCURRENCY)' });
      // Its status stays what it was: nothing is starting yet.
      expect(h.live.status).toBe('DISCONNECTED');
      expect(instanceView(null, h).admission).toMatchObject({ waiting: true, wait: 'launches' });
    }
    expect(f.gate.stats()).toMatchObject({ launching: 2, limit: 2 });
    const queueOrder = waiting.map((h) => [h.id, h.live.admission!.position] as const).sort((a, b) => a[1] - b[1]).map(([id]) => id);
    for (const id of ids) await waitForStatus(f, id, 'QR_REQUIRED', 30_000);
    await until('the last launches to finish', () => f.gate.stats().launching === 0);
    expect(stats.peak).toBe(2);
    expect(stats.order).toHaveLength(8);
    expect(f.gate.stats()).toMatchObject({ launching: 0, waiting: 0 });
    // Oldest first: the waiting ones were admitted in their queue order. (Not the order the launcher
    // is called in: each admitted start first records INITIALIZING, and those writes may finish in any order.)
    const admitted = logged
      .output()
      .split('\n')
      .filter((line) => line.includes('start admitted after'))
      .map((line) => (JSON.parse(line) as { instanceId: string }).instanceId);
    expect(admitted).toEqual(queueOrder);
  });

  it('waits for memory with the measured figures, shows it in the view and the memory report, and starts when room appears', async () => {
    const config = testConfig(db.url, root, { LAUNCH_CONCURRENCY: '4', FLEET_MEMORY_CAP_MB: '1000', INSTANCE_EXPECTED_MB: '300' });
    const f = await startFleet(config, standInLauncher, fakeProc(() => 300));
    checks = new Checks({ fleet: f, log: silentLogger, settings: quietCheckSettings(config) });
    for (const id of ['m-1', 'm-2', 'm-3', 'm-4']) await f.create(id);
    // 300 + 300 + 300 measured or expected: a fourth would make 1200 MiB > 1000.
    await until('three instances at QR', () => ['m-1', 'm-2', 'm-3'].every((id) => f.handle(id).live.status === 'QR_REQUIRED'));
    await until('the fourth waiting for memory', () => f.handle('m-4').live.admission?.wait === 'memory');
    const m4 = f.handle('m-4');
    expect(m4.live.admission?.reason).toBe('fleet memory 900 MiB + 300 MiB expected > 95% of cap 1000 MiB');
    expect(m4.live.status).toBe('DISCONNECTED');
    expect(m4.hasWorker).toBe(true);
    expect(f.startsRefused).toBe('fleet memory 900 MiB + 300 MiB expected > 95% of cap 1000 MiB');

    // The report shows the gate's own current measurement: the three running ones measured now
    // (no sample loop has run), the fourth waiting with its reason.
    const report = checks.memoryReport();
    expect(report.fleet).toMatchObject({ totalMb: 900, capMb: 1000, expectedMb: 300, expectedFrom: 'median', waiting: 1, refusingStarts: m4.live.admission?.reason });
    const byId = new Map(report.instances.map((i) => [i.instanceId, i]));
    expect(byId.get('m-1')).toMatchObject({ running: true, state: 'running', totalMb: 300 });
    expect(byId.get('m-4')).toMatchObject({ running: false, state: 'waiting', admission: { reason: m4.live.admission?.reason } });

    // An operator's enable or QR request does not hang on a waiting start.
    const t0 = Date.now();
    await f.requestQr('m-4');
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(m4.waitingForAdmission).toBe(true);

    // Room appears (an instance removed): the waiting one starts.
    await f.remove('m-1');
    await waitForStatus(f, 'm-4', 'QR_REQUIRED', 15_000);
    expect(m4.live.admission).toBeNull();
  });

  it('a disable or removal of a waiting instance takes it out of the queue; the stop of the fleet empties it', async () => {
    const config = testConfig(db.url, root, { FLEET_MEMORY_CAP_MB: '1000', INSTANCE_EXPECTED_MB: '300' });
    const f = await startFleet(config, standInLauncher, fakeProc(() => 400));
    await f.create('q-1');
    await f.create('q-2');
    await waitForStatus(f, 'q-1', 'QR_REQUIRED', 15_000);
    await waitForStatus(f, 'q-2', 'QR_REQUIRED', 15_000);
    for (const id of ['q-3', 'q-4', 'q-5']) await f.create(id);
    await until('three waiting', () => f.gate.stats().waiting === 3);
    expect(f.handle('q-4').live.admission?.position).toBe(2);

    await f.disable('q-3');
    expect(f.handle('q-3').live.admission).toBeNull();
    expect(f.handle('q-3').hasWorker).toBe(false);
    expect(f.handle('q-4').live.admission?.position).toBe(1);
    await f.remove('q-5');
    expect(f.gate.stats().waiting).toBe(1);

    const stopping = f.stop();
    fleet = undefined;
    await stopping;
    expect(f.gate.stats()).toMatchObject({ waiting: 0, launching: 0 });
    expect(f.handle('q-4').hasWorker).toBe(false);
  });

  it("the recovery loop's starts pass the gate too: the tick does not wait with them, and the waiting instance is judged waiting, not stuck", async () => {
    let mb = 100;
    const config = testConfig(db.url, root, { FLEET_MEMORY_CAP_MB: '1000', INSTANCE_EXPECTED_MB: '100' });
    const f = await startFleet(config, standInLauncher, fakeProc(() => mb));
    for (const id of ['r-1', 'r-2']) {
      await f.create(id);
      await waitForStatus(f, id, 'QR_REQUIRED', 15_000);
    }
    // Stopped behind the fleet's back, then memory fills up (the other instance grew).
    await f.handle('r-1').stop('restart');
    mb = 960;
    checks = new Checks({ fleet: f, log: silentLogger, settings: quietCheckSettings(config) });
    const t0 = Date.now();
    await checks.runNow('recovery');
    expect(Date.now() - t0).toBeLessThan(5_000);
    await until('r-1 waiting', () => f.handle('r-1').live.admission !== null, 5_000);
    expect(f.handle('r-1').live.admission).toMatchObject({ wait: 'critical' });
    expect(f.startsRefused).toMatch(/^fleet memory 960 MiB is 96% of its cap/);
    // The verdict: waiting for admission, not stuck, no recovery.
    await checks.runNow('health');
    expect(f.handle('r-1').live.healthReason).toBe('waiting_for_admission');

    mb = 100;
    await waitForStatus(f, 'r-1', 'QR_REQUIRED', 15_000);
    expect(f.startsRefused).toBeNull();
  });

  it("memory readers (the report, a details row, health's refusal) never re-read /proc for a worker already read; a start decision does", async () => {
    const config = testConfig(db.url, root);
    let reads = 0;
    const proc = withAsync({
      readMemory: () => (reads++, { pssBytes: 100 * MIB, rssBytes: 200 * MIB }),
      sampleTree: () => ({ pids: [], pssBytes: 0, rssBytes: 0 }),
    });
    const f = await startFleet(config, standInLauncher, proc);
    checks = new Checks({ fleet: f, log: silentLogger, settings: quietCheckSettings(config) });
    await f.create('r-1');
    await waitForStatus(f, 'r-1', 'QR_REQUIRED');
    f.latestMemory();
    const read = reads;
    expect(read).toBeGreaterThan(0);
    // Past the age at which the start gate would read it again: a reader still does not.
    await sleep(1_300);
    for (let i = 0; i < 5; i++) {
      checks.memoryReport();
      checks.instanceMemory('r-1');
      expect(f.startsRefused).toBeNull();
      await sleep(300);
    }
    expect(reads).toBe(read);
    // A details read shows the instance's row of the report, decided for it alone.
    expect(checks.instanceMemory('r-1')).toEqual(checks.memoryReport().instances.find((i) => i.instanceId === 'r-1'));
    expect(checks.instanceMemory('r-1')).toMatchObject({ instanceId: 'r-1', running: true, workerPssMb: expect.any(Number) });
    expect(checks.instanceMemory('nobody')).toBeNull();
    // The next start's decision (past the 250 ms in which a measurement is reused) reads the stale worker again.
    await sleep(300);
    await f.create('r-2');
    await waitForStatus(f, 'r-2', 'QR_REQUIRED');
    expect(reads).toBeGreaterThanOrEqual(read + 1);
  });
});
