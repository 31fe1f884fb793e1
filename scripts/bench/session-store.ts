/**
 * What SESSION_STORE=mysql costs: per profile size, the backup's size, the time one backup takes
 * (zip, transfer over the worker's channel, MySQL write), and the time from a worker's start to
 * `ready` when it restores from MySQL (profile folder deleted) against a LocalAuth restore from its
 * own folder (today's SESSION_STORE=local) and a mysql worker that keeps its own folder.
 *
 * Real workers and Chromium on the fake WhatsApp Web, a throwaway database on MYSQL_URL. The fake
 * page's profile is a few KB; `--media-mb` grows it by receiving that much random (incompressible)
 * media, which the page keeps in its IndexedDB, so the backup has the size of a real profile.
 * Each size costs one minute more: RemoteAuth makes the first backup 60 s after `ready`.
 *
 * Run: npm run bench:session-store -- [--media-mb 0,16] [--rounds 5]
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SessionStoreRepository } from '../../src/db/session-store-repository.js';
import type { Category, LogFields, Logger } from '../../src/logger/index.js';
import { WorkerHandle } from '../../src/worker/handle.js';
import { WorkerEvent, type SessionBackupReport, type WorkerInit } from '../../src/worker/protocol.js';
import { profileDir } from '../../src/worker/session-path.js';
import { formatBytes, SessionStoreHost } from '../../src/worker/session-store-host.js';
import { createTestDatabase, seedInstances } from '../../tests/support/db.js';
import { EventLog, fakeInit, tempSessionRoot, testWorkerUser } from '../../tests/support/workers.js';
import { killProcessesOfRun, markChildrenOfThisRun } from './support/cleanup.js';
import { describeError, LoadWatch, machineFacts, chromiumProcessCount, progress } from './support/machine.js';
import { median } from './support/report.js';
import { DASH, renderTable, seconds } from './support/table.js';

const CHROME_PATH = process.env.CHROME_PATH ?? '/usr/bin/chromium';
const INTERVAL_MS = 60_000;
/** Media per received message: one MiB of random bytes. */
const MEDIA_PART = 1024 * 1024;

interface Options {
  mediaMb: number[];
  rounds: number;
}

function options(): Options {
  const { values } = parseArgs({ options: { 'media-mb': { type: 'string', default: '0,16' }, rounds: { type: 'string', default: '5' } }, strict: true });
  const whole = (name: string, t: string, min: number) => {
    const n = Number(t.trim());
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} takes whole numbers >= ${min}, got ${t}`);
    return n;
  };
  return { mediaMb: values['media-mb'].split(',').map((t) => whole('media-mb', t, 0)), rounds: whole('rounds', values.rounds, 1) };
}

/** A logger that keeps the fields of the host's "backed up" line (its transfer and write time). */
class FieldsLog implements Logger {
  readonly lines: Array<{ message: string; fields: LogFields | undefined }> = [];
  error = (message: string, fields?: LogFields) => void this.lines.push({ message, fields });
  warn = (message: string, fields?: LogFields) => void this.lines.push({ message, fields });
  info = (message: string, fields?: LogFields) => void this.lines.push({ message, fields });
  debug = (message: string, fields?: LogFields) => void this.lines.push({ message, fields });
  child = (_fields: { category?: Category; instanceId?: string } & LogFields): Logger => this;
}

interface Row {
  mediaMb: number;
  backupBytes: number | null;
  saveMs: number | null;
  hostSaveMs: number | null;
  localReady: number[];
  mysqlReady: number[];
  restoreMs: number[];
  keptReady: number[];
}

const reportOf = (log: EventLog, action: SessionBackupReport['action']) =>
  log.seen.filter((e) => e.event === WorkerEvent.SESSION_BACKUP && (e.payload as SessionBackupReport).action === action).map((e) => e.payload as SessionBackupReport);

async function start(init: WorkerInit, host: SessionStoreHost | null): Promise<{ handle: WorkerHandle; log: EventLog; began: number }> {
  const log = new EventLog();
  const began = Date.now();
  const handle = await WorkerHandle.start({ init, startTimeoutMs: 60_000, onEvent: log.push, user: testWorkerUser(), sessionStore: host });
  return { handle, log, began };
}

/** Links a worker through the fake page's scan and grows its profile by `mediaMb` MiB. */
async function linkAndGrow(w: { handle: WorkerHandle; log: EventLog }, mediaMb: number): Promise<void> {
  await w.log.waitFor(WorkerEvent.QR, 30_000);
  await w.handle.demo('scan', [], 5_000);
  await w.log.waitFor(WorkerEvent.READY, 30_000);
  for (let i = 0; i < mediaMb; i++) {
    const media = { mimetype: 'application/octet-stream', filename: `blob-${i}.bin`, data: randomBytes(MEDIA_PART).toString('base64') };
    await w.handle.demoQuery('receive', [{ from: `1555000${String(1000 + i)}`, body: `media ${i}`, media }], 30_000);
  }
}

/** Start to `ready`, in ms; the worker is stopped again. */
async function timeToReady(init: WorkerInit, host: SessionStoreHost | null): Promise<{ ms: number; log: EventLog }> {
  const w = await start(init, host);
  try {
    const ready = await w.log.waitFor(WorkerEvent.READY, 60_000);
    if (w.log.count(WorkerEvent.QR) > 0) throw new Error('a QR was shown: the session was not restored');
    return { ms: ready.at - w.began, log: w.log };
  } finally {
    await w.handle.stop(8_000);
  }
}

async function measure(mediaMb: number, rounds: number, root: string, host: SessionStoreHost, hostLog: FieldsLog): Promise<Row> {
  const mysqlId = `bench-mysql-${mediaMb}`;
  const localId = `bench-local-${mediaMb}`;
  const mysqlInit: WorkerInit = { ...fakeInit(root, mysqlId), chromePath: CHROME_PATH, sessionBackup: { intervalMs: INTERVAL_MS } };
  const localInit: WorkerInit = { ...fakeInit(root, localId), chromePath: CHROME_PATH };
  const row: Row = { mediaMb, backupBytes: null, saveMs: null, hostSaveMs: null, localReady: [], mysqlReady: [], restoreMs: [], keptReady: [] };

  progress(`${mediaMb} MiB: linking both workers, then waiting for the first backup (60 s after ready)`);
  const mysqlWorker = await start(mysqlInit, host);
  const localWorker = await start(localInit, null);
  try {
    await Promise.all([linkAndGrow(mysqlWorker, mediaMb), linkAndGrow(localWorker, mediaMb)]);
    const saved = await mysqlWorker.log.waitFor(WorkerEvent.SESSION_BACKUP, 180_000, 0, (p) => (p as SessionBackupReport).action !== 'kept');
    const report = saved.payload as SessionBackupReport;
    if (report.action !== 'saved') throw new Error(`the first backup failed: ${report.message ?? report.action}`);
    row.backupBytes = report.bytes;
    row.saveMs = report.ms;
    const hostLine = hostLog.lines.filter((l) => l.message.startsWith('session backed up')).at(-1);
    row.hostSaveMs = typeof hostLine?.fields?.ms === 'number' ? hostLine.fields.ms : null;
    progress(`${mediaMb} MiB: backup of ${formatBytes(report.bytes ?? 0)} saved in ${report.ms} ms`);
  } finally {
    await Promise.all([mysqlWorker.handle.stop(8_000), localWorker.handle.stop(8_000)]);
  }

  for (let round = 1; round <= rounds; round++) {
    // The order turns every round, so a load that comes and goes falls on every column alike.
    const steps = [
      async () => row.localReady.push((await timeToReady(localInit, null)).ms),
      async () => {
        rmSync(profileDir(root, mysqlId), { recursive: true, force: true });
        const { ms, log } = await timeToReady(mysqlInit, host);
        const restored = reportOf(log, 'restored')[0];
        if (!restored) throw new Error('the mysql worker did not restore from MySQL');
        row.mysqlReady.push(ms);
        row.restoreMs.push(restored.ms ?? 0);
      },
      async () => {
        const { ms, log } = await timeToReady(mysqlInit, host);
        if (reportOf(log, 'kept').length !== 1) throw new Error('the mysql worker did not keep its own profile');
        row.keptReady.push(ms);
      },
    ];
    for (let i = 0; i < steps.length; i++) await steps[(i + round) % steps.length]!();
    progress(`${mediaMb} MiB: round ${round}/${rounds} done`);
  }
  return row;
}

const medianMax = (values: number[]) => (values.length === 0 ? DASH : `${seconds(median(values))} / ${seconds(Math.max(...values))}`);

async function main(): Promise<void> {
  const opts = options();
  const marker = markChildrenOfThisRun();
  const chromiumAtStart = chromiumProcessCount();
  const load = new LoadWatch();
  const db = await createTestDatabase({ migrated: true });
  const scratch = mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? tmpdir(), 'session-store-bench-'));
  // Workers run as WORKER_USER when this runs as root: it must pass through to their folders.
  chmodSync(scratch, 0o711);
  process.env.WA_FLEET_TEST_DIR = scratch;
  const root = tempSessionRoot();
  const hostLog = new FieldsLog();
  const host = new SessionStoreHost({ repo: new SessionStoreRepository(db.pool), log: hostLog });
  const rows: Row[] = [];
  try {
    await seedInstances(db.pool, opts.mediaMb.map((mb) => `bench-mysql-${mb}`));
    for (const mb of opts.mediaMb) rows.push(await measure(mb, opts.rounds, root, host, hostLog));
  } finally {
    const survivors = await killProcessesOfRun(marker);
    if (survivors.length > 0) process.stderr.write(`warning: ${survivors.length} process(es) of this run survived: ${survivors.map((s) => s.pid).join(' ')}\n`);
    await db.drop();
    rmSync(scratch, { recursive: true, force: true });
  }

  const header = ['profile grown by', 'backup (zip)', 'save: zip + send + write ms', 'of which send + MySQL write ms', 'local restore → ready s (median / max)', 'mysql restore → ready s', 'of which fetch + unzip ms (median)', 'mysql, own profile kept → ready s'];
  const table = renderTable(
    header,
    rows.map((r) => [
      `${r.mediaMb} MiB`,
      r.backupBytes === null ? DASH : formatBytes(r.backupBytes),
      String(r.saveMs ?? DASH),
      String(r.hostSaveMs ?? DASH),
      medianMax(r.localReady),
      medianMax(r.mysqlReady),
      String(Math.round(median(r.restoreMs) ?? 0)),
      medianMax(r.keptReady),
    ]),
    2,
  );
  process.stdout.write(
    [
      `npm run bench:session-store -- --media-mb ${opts.mediaMb.join(',')} --rounds ${opts.rounds}`,
      machineFacts(CHROME_PATH, chromiumAtStart),
      load.summary(),
      '',
      table,
      '',
      `Restores per column: ${opts.rounds}. Restore → ready: from the worker's fork to its \`ready\`, the worker stopped in between (8 s stop budget). One save per size (the first, 60 s after ready).`,
      '',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${describeError(err)}\n`);
  process.exitCode = 1;
});
