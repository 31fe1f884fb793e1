import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { processesMatching } from '../../lib/proc-cmdline.js';
import { sleep } from '../../lib/timeout.js';
import { listEvents } from '../../src/db/events.js';
import { InstancesRepository } from '../../src/db/instances-repository.js';
import type { ConnectionStatus } from '../../src/domain/instance.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { startChild, type RunningChild } from '../support/child.js';
import { createTestDatabase, seedInstances, type TestDatabase } from '../support/db.js';
import { freePort, waitForHttp } from '../support/net.js';
import { fakeInit, startFakeWorker, stopAllWorkers, tempSessionRoot } from '../support/workers.js';

const BUILT = join(PACKAGE_ROOT, 'dist/src/main.js');
const IDS = ['proc-a', 'proc-b'];
const SHUTDOWN_TIMEOUT_MS = 15_000;

let db: TestDatabase;
let repo: InstancesRepository;
const root = tempSessionRoot();
let supervisor: RunningChild | undefined;

beforeAll(async () => {
  expect(existsSync(BUILT), `${BUILT} missing: run npm run build`).toBe(true);
  db = await createTestDatabase({ migrated: true });
  repo = new InstancesRepository(db.pool);
  // Saved sessions: link each profile once through a worker, then record the instances.
  for (const id of IDS) {
    const w = await startFakeWorker(fakeInit(root, id));
    await w.log.waitFor('qr');
    await w.handle.demo('scan', [], 3_000);
    await w.log.waitFor('ready');
    await seedInstances(db.pool, [id]);
  }
  await stopAllWorkers();
}, 120_000);
afterEach(async () => {
  // Leave through the graceful path when possible, so the workers and browsers go with it.
  if (supervisor && supervisor.proc.exitCode === null && supervisor.proc.signalCode === null) {
    supervisor.proc.kill('SIGTERM');
    await Promise.race([supervisor.exited, sleep(SHUTDOWN_TIMEOUT_MS + 2_000)]);
  }
  supervisor?.kill();
});
afterAll(async () => {
  await db?.drop();
});

async function startSupervisor(): Promise<RunningChild> {
  const port = await freePort();
  supervisor = startChild(process.execPath, [BUILT], {
    cwd: PACKAGE_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      API_KEY: 'process-test-key-0123456789',
      MYSQL_URL: db.url,
      HOST: '127.0.0.1',
      PORT: String(port),
      SESSION_STORAGE_PATH: root,
      WA_FLEET_FAKE_WEB: 'true',
      LOG_FORMAT: 'json',
      REHYDRATE_STAGGER_MS: '200',
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    },
  });
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, 30_000, 200);
  return supervisor;
}

async function waitForRows(status: ConnectionStatus, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await repo.list();
    if (rows.every((r) => r.connectionStatus === status)) return;
    if (Date.now() > deadline) throw new Error(`rows not all ${status}: ${rows.map((r) => `${r.id}=${r.connectionStatus}`).join(', ')}`);
    await sleep(250);
  }
}

/** Waits until every instance has connected again after the events numbered up to `seq`. */
async function waitForReconnection(seq: Map<string, number>, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending: string[] = [];
    for (const id of IDS) {
      const events = await listEvents(db.pool, id, 200);
      if (!events.some((e) => e.seq > (seq.get(id) ?? 0) && e.toStatus === 'CONNECTED')) pending.push(id);
    }
    if (pending.length === 0) return;
    if (Date.now() > deadline) throw new Error(`not connected again: ${pending.join(', ')}`);
    await sleep(250);
  }
}

const ourChromium = () => processesMatching((argv) => argv.some((a) => a.startsWith(`--user-data-dir=${root}/`)));

async function qrRequestedSince(seq: Map<string, number>): Promise<string[]> {
  const asked: string[] = [];
  for (const id of IDS) {
    const events = await listEvents(db.pool, id, 200);
    if (events.some((e) => e.seq > (seq.get(id) ?? 0) && e.toStatus === 'QR_REQUIRED')) asked.push(id);
  }
  return asked;
}

async function lastSeqs(): Promise<Map<string, number>> {
  const seqs = new Map<string, number>();
  for (const id of IDS) seqs.set(id, (await listEvents(db.pool, id, 1))[0]?.seq ?? 0);
  return seqs;
}

describe('the supervisor process', { timeout: 180_000 }, () => {
  it('restores saved sessions at boot, and on SIGTERM exits 0 within its budget, saving every row and leaving no Chromium', async () => {
    const before = await lastSeqs();
    const run = await startSupervisor();
    await waitForRows('CONNECTED');
    expect(await qrRequestedSince(before)).toEqual([]);

    const signalledAt = Date.now();
    run.proc.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    const rows = await repo.list();
    expect(rows.map((r) => [r.id, r.enabled, r.connectionStatus, r.statusReason])).toEqual(
      IDS.map((id) => [id, true, 'DISCONNECTED', 'shutdown']),
    );
    expect(ourChromium()).toEqual([]);

    const again = await lastSeqs();
    await startSupervisor();
    await waitForRows('CONNECTED');
    expect(await qrRequestedSince(again)).toEqual([]);
  });

  it('after a SIGKILL of the supervisor, the next boot reaps what was left and restores the sessions', async () => {
    const run = await startSupervisor();
    await waitForRows('CONNECTED');
    process.kill(run.proc.pid!, 'SIGKILL');
    await run.exited;

    const before = await lastSeqs();
    await startSupervisor();
    // The rows still say CONNECTED from before the kill: wait for each instance's new connection.
    await waitForReconnection(before);
    expect(await qrRequestedSince(before)).toEqual([]);
    await sleep(1_000);
    for (const id of IDS) {
      expect(ourChromium().filter((p) => p.argv.includes(`--user-data-dir=${root}/session-${id}`))).toHaveLength(1);
    }
  });
});
