import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesMatching } from '../../lib/proc-cmdline.js';
import { sleep } from '../../lib/timeout.js';
import { SessionStoreRepository } from '../../src/db/session-store-repository.js';
import { Fleet } from '../../src/supervisor/fleet.js';
import { WorkerHandle } from '../../src/worker/handle.js';
import type { WorkerInit } from '../../src/worker/protocol.js';
import { profileDir, remoteProfileDir } from '../../src/worker/session-path.js';
import { SessionStoreHost } from '../../src/worker/session-store-host.js';
import { createTestDatabase, seedInstances, type TestDatabase } from '../support/db.js';
import { createLinked, nextUpdate, testConfig, waitForStatus } from '../support/fleet.js';
import { capturingLogger, silentLogger } from '../support/logger.js';
import { EventLog, fakeInit, startFakeWorker, stopAllWorkers, tempSessionRoot, testWorkerUser } from '../support/workers.js';

/*
 * SESSION_STORE=mysql with real workers and Chromium on the fake WhatsApp Web, driven through a
 * Fleet with the real launcher (demo mode). SESSION_BACKUP_INTERVAL_MS is 60000, the least
 * RemoteAuth allows; the first backup of a newly linked session comes 60 s after `ready` whatever
 * the interval (RemoteAuth's fixed delay), so the instances are linked once, in beforeAll, and
 * their first backups awaited together. A second Fleet on the same database runs with the default
 * SESSION_STORE=local over the same minute.
 */

let db: TestDatabase;
const root = tempSessionRoot();
const localRoot = tempSessionRoot();
const captured = capturingLogger({ level: 'info' });
let fleet: Fleet;
let localFleet: Fleet;
/** When each mysql instance reached `ready` after its scan. */
const linkedAt = new Map<string, number>();

const MYSQL_IDS = ['move', 'api-out', 'phone-out', 'gone'] as const;
const LOCAL_ID = 'plain';

interface BackupRow {
  size: number;
  sha256: string;
  savedAt: Date;
  saves: number;
  chunks: Buffer;
}

async function backupOf(id: string): Promise<BackupRow | null> {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT size, sha256, saved_at, saves FROM session_backups WHERE instance_id = ?', [id]);
  if (!rows[0]) return null;
  const [chunks] = await db.pool.query<RowDataPacket[]>('SELECT data FROM session_backup_chunks WHERE instance_id = ? ORDER BY chunk_no', [id]);
  return { size: rows[0].size as number, sha256: rows[0].sha256 as string, savedAt: rows[0].saved_at as Date, saves: rows[0].saves as number, chunks: Buffer.concat(chunks.map((c) => c.data as Buffer)) };
}

async function chunkCount(id: string): Promise<number> {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM session_backup_chunks WHERE instance_id = ?', [id]);
  return Number(rows[0]!.n);
}

async function waitUntil<T>(what: string, probe: () => Promise<T | null | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** Names in a zip's central directory (what RemoteAuth would unzip). */
function zipEntryNames(zip: Buffer): string[] {
  const names: string[] = [];
  for (let at = zip.indexOf('PK\x01\x02', 0, 'latin1'); at >= 0; at = zip.indexOf('PK\x01\x02', at + 46, 'latin1')) {
    const nameLength = zip.readUInt16LE(at + 28);
    names.push(zip.subarray(at + 46, at + 46 + nameLength).toString('utf8'));
  }
  return names;
}

const chromiumOn = (profile: string) => processesMatching((argv) => argv.includes(`--user-data-dir=${profile}`)).map((p) => p.pid);
const bootOf = async (f: Fleet, id: string) => ((await f.demoQuery(id, 'status')) as { boot: number }).boot;

function qrsOf(f: Fleet, id: string): () => number {
  let count = 0;
  f.events.on('qrcode.updated', (e) => {
    if (e.instanceId === id) count++;
  });
  return () => count;
}

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  fleet = new Fleet({ config: testConfig(db.url, root, { SESSION_STORE: 'mysql', SESSION_BACKUP_INTERVAL_MS: '60000' }), pool: db.pool, log: captured.log });
  localFleet = new Fleet({ config: testConfig(db.url, localRoot), pool: db.pool, log: silentLogger });
  // Both fleets start before any instance exists: each supervises only the instances it creates.
  await fleet.start();
  await localFleet.start();
  await Promise.all([
    ...MYSQL_IDS.map(async (id) => {
      await createLinked(fleet, id);
      linkedAt.set(id, Date.now());
    }),
    createLinked(localFleet, LOCAL_ID),
  ]);
  await waitUntil('the first backups', async () => (await Promise.all(MYSQL_IDS.map(backupOf))).every((b) => b !== null), 120_000);
}, 200_000);

afterAll(async () => {
  await stopAllWorkers();
  await fleet?.stop();
  await localFleet?.stop();
  await db?.drop();
});

describe('SESSION_STORE=mysql on the fake WhatsApp Web', { timeout: 90_000 }, () => {
  it('backs a linked session up 60 s after it was linked: one row whose size and SHA-256 match its chunks, a zip carrying the IndexedDB', async () => {
    for (const id of MYSQL_IDS) {
      const backup = (await backupOf(id))!;
      expect(backup.saves).toBe(1);
      expect(backup.size).toBe(backup.chunks.length);
      expect(backup.size).toBeGreaterThan(0);
      expect(createHash('sha256').update(backup.chunks).digest('hex')).toBe(backup.sha256);
      // RemoteAuth's fixed first delay (the clocks are the database's and ours: a second of slack).
      expect(backup.savedAt.getTime()).toBeGreaterThan(linkedAt.get(id)! + 59_000 - 1_000);
      const names = zipEntryNames(backup.chunks);
      expect(names.some((n) => n.startsWith('Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/'))).toBe(true);
    }
    expect(captured.output()).toMatch(/session backed up to MySQL: [\d.]+ KiB \(backup #1\), transferred and written in \d+ ms/);
  });

  it('runs Chromium on RemoteAuth\'s folder inside the instance folder, owner-only, HOME beside it', async () => {
    const folder = profileDir(root, 'move');
    const profile = remoteProfileDir(root, 'move');
    expect(chromiumOn(profile)).toHaveLength(1);
    expect(statSync(folder).mode & 0o777).toBe(0o700);
    expect(statSync(profile).mode & 0o777).toBe(0o700);
    const user = testWorkerUser();
    if (user) expect(statSync(profile).uid).toBe(user.uid);
    expect(existsSync(join(folder, 'home'))).toBe(true);
    expect(existsSync(join(folder, 'session-backup.json'))).toBe(true);
  });

  it('restores a session whose profile folder was deleted from MySQL: CONNECTED again without a QR', async () => {
    const id = 'move';
    const qrs = qrsOf(fleet, id);
    await fleet.disable(id);
    rmSync(profileDir(root, id), { recursive: true, force: true });
    const started = Date.now();
    await fleet.enable(id);
    await waitForStatus(fleet, id, 'CONNECTED', 60_000);
    const ms = Date.now() - started;
    expect(qrs()).toBe(0);
    expect(existsSync(join(remoteProfileDir(root, id), 'Default', 'IndexedDB'))).toBe(true);
    const log = captured.output();
    expect(log).toMatch(/session restored from MySQL: [\d.]+ KiB fetched and unzipped in \d+ ms/);
    expect(log).toMatch(/restored session ready \d+ ms after its restore from MySQL began/);
    process.stderr.write(`session-store e2e: enable → CONNECTED after a restore from MySQL: ${ms} ms\n`);
  });

  it('restarts on its own profile while the stored copy has not moved on, not on the older backup', async () => {
    const id = 'move';
    const stored = (await backupOf(id))!;
    const before = await bootOf(fleet, id);
    for (let i = 1; i <= 2; i++) {
      await fleet.restart(id);
      await waitForStatus(fleet, id, 'CONNECTED', 60_000);
      // The page counts its loads in its IndexedDB: a profile restored from the backup would count from the backup's number again.
      expect(await bootOf(fleet, id)).toBe(before + i);
    }
    expect((await backupOf(id))!.sha256).toBe(stored.sha256);
    expect(captured.output()).toMatch(/session kept in its local profile/);
  });

  it('keeps the stored copy through a CONFLICT, and the fleet reconnects without a QR', async () => {
    const id = 'move';
    const stored = (await backupOf(id))!;
    const qrs = qrsOf(fleet, id);
    const disconnected = nextUpdate(fleet, id, 'DISCONNECTED');
    await fleet.simulate(id, 'conflict');
    await disconnected;
    await waitForStatus(fleet, id, 'CONNECTED', 60_000);
    expect(qrs()).toBe(0);
    expect((await backupOf(id))?.sha256).toBe(stored.sha256);
  });

  it('deletes the stored copy when the instance is logged out through the API', async () => {
    const id = 'api-out';
    expect(await backupOf(id)).not.toBeNull();
    await fleet.logout(id);
    expect(await backupOf(id)).toBeNull();
    expect(await chunkCount(id)).toBe(0);
  });

  it('deletes the stored copy when the phone logs the session out', async () => {
    const id = 'phone-out';
    expect(await backupOf(id)).not.toBeNull();
    const loggedOut = nextUpdate(fleet, id, 'DISCONNECTED');
    await fleet.simulate(id, 'logout');
    expect((await loggedOut).reason).toBe('LOGOUT');
    await waitUntil('the stored copy deleted', async () => (await backupOf(id)) === null, 10_000);
    expect(await chunkCount(id)).toBe(0);
  });

  it('deletes the stored copy when the instance is removed', async () => {
    const id = 'gone';
    expect(await backupOf(id)).not.toBeNull();
    await fleet.remove(id);
    expect(await backupOf(id)).toBeNull();
    expect(await chunkCount(id)).toBe(0);
  });

  it('refuses a worker that asks for another instance\'s session, whatever the request', async () => {
    // A victim of its own, so that what the tests above did to their instances does not matter here.
    const victim = 'victim';
    await seedInstances(db.pool, [victim]);
    const secret = Buffer.from('the victim\'s session');
    await new SessionStoreRepository(db.pool).save(victim, secret, createHash('sha256').update(secret).digest('hex'));
    const before = (await backupOf(victim))!;
    const out = join(mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? '/tmp', 'thief-')), 'results.json');
    const host = new SessionStoreHost({ repo: new SessionStoreRepository(db.pool), log: silentLogger });
    const targets = [`RemoteAuth-${victim}`, `RemoteAuth-${victim}/../RemoteAuth-thief`, 'RemoteAuth-THIEF', 'RemoteAuth-thief'];
    const init = { instanceId: 'thief', sessionRoot: root, fakeScenario: { targets, out } } as unknown as WorkerInit;
    const thief = await WorkerHandle.start({ init, startTimeoutMs: 20_000, entry: fileURLToPath(new URL('../support/fixtures/session-thief-worker.ts', import.meta.url)), sessionStore: host });
    await thief.stop(5_000);
    const results = JSON.parse(readFileSync(out, 'utf8')) as Record<string, Record<string, { ok: boolean; code?: string; reply?: unknown }>>;
    for (const session of targets.slice(0, 3)) {
      for (const request of ['exists', 'extract', 'save', 'delete']) expect({ session, request, ...results[session]![request] }).toMatchObject({ session, request, ok: false, code: 'SESSION_FORBIDDEN' });
    }
    // Its own session is answered (there is none: it is not an instance).
    expect(results['RemoteAuth-thief']!.exists).toEqual({ ok: true, reply: { exists: false, size: null, sha256: null, savedAt: null } });
    const after = (await backupOf(victim))!;
    expect({ sha256: after.sha256, saves: after.saves }).toEqual({ sha256: before.sha256, saves: before.saves });
    expect(after.chunks.equals(secret)).toBe(true);
  });

  it('stores nothing with SESSION_STORE=local: Chromium runs on the instance folder itself, and no backup appeared in the minute the others took', async () => {
    // beforeAll linked this instance while the mysql ones waited 60 s for their first backups.
    expect(await backupOf(LOCAL_ID)).toBeNull();
    expect(chromiumOn(profileDir(localRoot, LOCAL_ID))).toHaveLength(1);
    expect(existsSync(remoteProfileDir(localRoot, LOCAL_ID))).toBe(false);
    expect(existsSync(join(profileDir(localRoot, LOCAL_ID), 'Default'))).toBe(true);
  });
});

describe('switching SESSION_STORE', { timeout: 90_000 }, () => {
  const switchRoot = tempSessionRoot();
  const host = () => new SessionStoreHost({ repo: new SessionStoreRepository(db.pool), log: silentLogger });
  const mysqlInit = (id: string): WorkerInit => ({ ...fakeInit(switchRoot, id), sessionBackup: { intervalMs: 60_000 } });

  it('keeps a linked session, without a QR, from local to mysql and back', async () => {
    const id = 'switch';
    const first = await startFakeWorker(fakeInit(switchRoot, id));
    await first.log.waitFor('qr');
    await first.handle.demo('scan', [], 3_000);
    await first.log.waitFor('ready');
    await first.handle.stop(5_000);

    const asMysql = new EventLog();
    const second = await WorkerHandle.start({ init: mysqlInit(id), startTimeoutMs: 30_000, onEvent: asMysql.push, user: testWorkerUser(), sessionStore: host() });
    try {
      await asMysql.waitFor('ready', 30_000);
      expect(asMysql.count('qr')).toBe(0);
      expect(chromiumOn(remoteProfileDir(switchRoot, id))).toHaveLength(1);
    } finally {
      await second.stop(5_000);
    }

    const third = await startFakeWorker(fakeInit(switchRoot, id));
    await third.log.waitFor('ready', 30_000);
    expect(third.log.count('qr')).toBe(0);
    expect(chromiumOn(profileDir(switchRoot, id))).toHaveLength(1);
    expect(existsSync(remoteProfileDir(switchRoot, id))).toBe(false);
  });
});
