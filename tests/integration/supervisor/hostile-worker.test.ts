import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEvents } from '../../../src/db/events.js';
import type { WorkerLauncher } from '../../../src/supervisor/instance/handle.js';
import { WorkerHandle } from '../../../src/worker/handle.js';
import type { WorkerInit } from '../../../src/worker/protocol.js';
import { Supervisor } from '../../../src/supervisor/supervisor.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { standInLauncher, testConfig, waitForStatus } from '../../support/fleet.js';
import { silentLogger } from '../../support/logger.js';
import { waitFor } from '../../support/webhook-receiver.js';
import { isAlive } from '../../support/processes.js';
import { tempSessionRoot } from '../../support/workers.js';

const HOSTILE = fileURLToPath(new URL('./fixtures/hostile-worker.ts', import.meta.url));
/** The hostile fixture for instances named `hostile-*`, the honest stand-in for the rest. */
const launch: WorkerLauncher = (instanceId, listener) =>
  instanceId.startsWith('hostile')
    ? WorkerHandle.start({ init: { instanceId, fakeScenario: { foreignPid: foreign.pid } } as unknown as WorkerInit, startTimeoutMs: 15_000, ...listener, entry: HOSTILE })
    : standInLauncher(instanceId, listener);

let db: TestDatabase;
let supervisor: Supervisor;
let foreign: ChildProcess;
let base: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  // A process outside every worker's tree, in a group of its own: a kill aimed at it would end it.
  foreign = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
  const config = testConfig(db.url, tempSessionRoot(), { HOST: '127.0.0.1', PORT: '0', HEALTH_CHECK_START_DELAY_MS: '600000' });
  supervisor = new Supervisor({ config, log: silentLogger, launch });
  await supervisor.start();
  base = `http://127.0.0.1:${supervisor.address!.port}`;
});
afterAll(async () => {
  await supervisor?.stop();
  foreign?.kill('SIGKILL');
  await db?.drop();
});

describe('a worker that sends what it must not', () => {
  it('is an error of its own instance only: others are written, /healthz answers, no foreign process is signalled', async () => {
    const { fleet } = supervisor;
    await fleet.create('hostile-1');
    await fleet.create('honest-1');
    await waitForStatus(fleet, 'hostile-1', 'QR_REQUIRED');
    // The 100 KB QR was refused; the real-sized one that followed is the one shown.
    expect(fleet.handle('hostile-1').live.qr?.value).toBe('2@a-real-sized-qr');
    await fleet.simulate('hostile-1', 'scan');
    await waitForStatus(fleet, 'hostile-1', 'CONNECTED');
    // The phone is connected; the push name it could not store is not kept.
    expect(fleet.handle('hostile-1').live.pushName).toBeNull();
    expect(fleet.handle('hostile-1').live.browserPid).toBeNull();

    // The other instance's changes are written within 5 s.
    const started = Date.now();
    await fleet.simulate('honest-1', 'scan');
    await waitFor(async () => (await fleet.row('honest-1'))?.connectionStatus === 'CONNECTED', 'honest-1 written CONNECTED', 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);

    // The hostile instance has error events naming each refusal.
    await waitFor(async () => (await listEvents(db.pool, 'hostile-1', 50)).filter((e) => e.type === 'worker.invalid_message').length >= 4, 'four refusals recorded');
    const refusals = (await listEvents(db.pool, 'hostile-1', 50)).filter((e) => e.type === 'worker.invalid_message').map((e) => e.data?.event);
    expect(refusals.sort()).toEqual(['browser_launched', 'browser_launched', 'qr', 'ready']);
    expect(fleet.handle('hostile-1').live.recentErrors.length).toBeGreaterThanOrEqual(4);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    // Killing the instance's worker signals only its own tree: the named foreign pid lives on.
    await fleet.hardRestart('hostile-1', 'test');
    await fleet.disable('hostile-1');
    expect(isAlive(foreign.pid!)).toBe(true);
    expect(isAlive(process.pid)).toBe(true);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
