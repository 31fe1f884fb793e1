import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/timeout.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { startChild, type RunningChild } from '../support/child.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { SESSION_PERSIST_MS } from '../support/fleet.js';
import { freePort, waitForHttp } from '../support/net.js';
import { chromiumOnProfile, findProcessesWithArg } from '../support/processes.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver.js';
import { tempSessionRoot } from '../support/workers.js';

/*
 * SIGKILL of the supervisor while a message is `sending` (issue 15, must-show 4). The supervisor
 * runs as a separate process from its sources (demo mode, its own database and session folder,
 * no pacing); the fake WhatsApp Web is made to hang one send, either after it recorded the message
 * ("WhatsApp has it, the sender never heard back") or before. The supervisor is killed while the
 * message is `sending`, its workers and browsers go with it, and a new supervisor on the same
 * database and folder must finish the message: `sent`, and on the page's own record exactly once.
 * Ordinary messages before, behind and after each crash must each be there exactly once too.
 */

const KEY = 'crash-test-key-0123456789abcdef';
const ID = 'crash-a';
const SHUTDOWN_TIMEOUT_MS = 20_000;

let db: TestDatabase;
let receiver: Receiver;
const root = tempSessionRoot();
let run: RunningChild | undefined;
let base = '';
/** Every process any of our supervisors started (pid → command line), for the final check and the cleanup. */
const seen = new Map<number, string>();
/** Every message the API accepted (202) in this file. */
const accepted: Sent[] = [];

interface Sent {
  id: string;
  waMessageId: string;
  text: string;
}

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'x-api-key': KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, json };
}

/** The supervisor's log so far, for a failure message. */
const logTail = () => (run ? run.output().slice(-4_000) : '(no supervisor)');

/** Polls `condition` (an error counts as "not yet": the supervisor may be starting) until it holds; fails naming `what`. */
async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs: number, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      if (await condition()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}\n--- supervisor log ---\n${logTail()}`);
    await sleep(everyMs);
  }
}

// ---- processes ----

function procStat(pid: number): { state: string; ppid: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, ppid: Number(fields[1]) };
  } catch {
    return null;
  }
}

function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** Whether the process still runs as the same program (a zombie holds nothing: it counts as gone). */
function stillRunning(pid: number, cmdline: string): boolean {
  const stat = procStat(pid);
  return stat !== null && stat.state !== 'Z' && cmdlineOf(pid) === cmdline;
}

/** Every live descendant of `pid` (workers, their Chromium and its children), with its command line. */
function descendants(pid: number): Map<number, string> {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (!stat || stat.state === 'Z') continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), Number(name)]);
  }
  const found = new Map<number, string>();
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      found.set(c, cmdlineOf(c));
      walk(c);
    }
  };
  walk(pid);
  return found;
}

// ---- the supervisor process ----

async function startSupervisor(): Promise<void> {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  run = startChild(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'src/main.ts')], {
    cwd: PACKAGE_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      API_KEY: KEY,
      MYSQL_URL: db.url,
      HOST: '127.0.0.1',
      PORT: String(port),
      SESSION_STORAGE_PATH: root,
      CACHE_PATH: join(root, '..', 'cache'),
      CHROME_PATH: process.env.CHROME_PATH ?? '/usr/bin/chromium',
      WA_FLEET_FAKE_WEB: 'true',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'warn',
      REHYDRATE_STAGGER_MS: '200',
      RECONNECT_BASE_DELAY_MS: '200',
      RECONNECT_JITTER_MS: '200',
      WEB_LOAD_TIMEOUT_MS: '30000',
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      NOTIFICATION_WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET: 'crash-webhook-secret-0123456789',
      WEBHOOK_BASE_DELAY_MS: '200',
      // No pacing; a hung send stays unanswered well past the moment of the kill.
      SEND_MIN_INTERVAL_MS: '0',
      SEND_JITTER_MS: '0',
      SEND_MAX_PER_MINUTE: '0',
      SEND_TIMEOUT_MS: '30000',
    },
  });
  await waitForHttp(`${base}/healthz`, 90_000, 200).catch((err: unknown) => {
    throw new Error(`${String(err)}\n--- supervisor log ---\n${logTail()}`);
  });
}

async function details(): Promise<Record<string, any>> {
  const r = await call('GET', `/api/instance/${ID}/details`);
  if (r.status !== 200) throw new Error(`details: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.instance;
}

/** SIGKILLs the supervisor alone (as the OOM killer or `kill -9` would), then waits for all it had started to die with it. */
async function killSupervisor(): Promise<{ workerPid: number; killedTree: Map<number, string> }> {
  const d = await details();
  const workerPid = d.worker?.pid as number;
  const browserPid = d.worker?.browserPid as number;
  const tree = descendants(run!.proc.pid!);
  for (const [pid, cmd] of tree) seen.set(pid, cmd);
  expect(tree.has(workerPid), `the worker ${workerPid} is a child of the supervisor`).toBe(true);
  expect(tree.has(browserPid), `the browser ${browserPid} descends from the supervisor`).toBe(true);
  const killedAt = Date.now();
  process.kill(run!.proc.pid!, 'SIGKILL');
  await run!.exited;
  const survivors = () => [
    ...[...tree].filter(([pid, cmd]) => stillRunning(pid, cmd)).map(([pid, cmd]) => `${pid} ${cmd.slice(0, 160)}`),
    ...chromiumOnProfile(root, ID).map((pid) => `${pid} (Chromium on the profile)`),
    // What Chromium detaches from itself (its crash handler) names the session folder, not the profile.
    ...findProcessesWithArg(root).map((p) => `${p.pid} ${p.cmdline.slice(0, 160)}`),
  ];
  await until(() => survivors().length === 0, 'the workers and browsers of the killed supervisor to die', 30_000).catch(() => undefined);
  expect(survivors(), 'processes of the SIGKILLed supervisor still running').toEqual([]);
  console.log(
    `[messages-supervisor-crash] SIGKILLed supervisor ${run!.proc.pid} while a message was sending; its ${tree.size} descendant processes ` +
      `(worker ${workerPid}, browser ${browserPid}) and every process naming its session folder were gone ${Date.now() - killedAt} ms later`,
  );
  return { workerPid, killedTree: tree };
}

/** After a restart: the instance is CONNECTED again on a new worker, from its saved session (no QR). */
async function waitReconnected(oldWorkerPid: number): Promise<void> {
  await until(
    async () => {
      const d = await details();
      if (d.connectionStatus === 'QR_REQUIRED') throw new Error('the restarted supervisor asked for a QR: the session was not restored');
      return d.connectionStatus === 'CONNECTED' && typeof d.worker?.pid === 'number' && d.worker.pid !== oldWorkerPid;
    },
    `${ID} CONNECTED again on a new worker`,
    120_000,
  );
}

// ---- messages ----

async function send(to: string, text: string): Promise<Sent> {
  const r = await call('POST', `/api/instance/${ID}/messages`, { to, text });
  if (r.status !== 202) throw new Error(`send "${text}": ${r.status} ${JSON.stringify(r.json)}`);
  const m = { id: r.json.message.id, waMessageId: r.json.message.waMessageId, text };
  accepted.push(m);
  return m;
}

async function message(id: string): Promise<Record<string, any>> {
  const r = await call('GET', `/api/instance/${ID}/messages/${id}`);
  if (r.status !== 200) throw new Error(`message ${id}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.message;
}

/** Waits until none of the messages is queued or sending; returns them as the API shows them. */
async function waitSettled(messages: Sent[], timeoutMs = 120_000): Promise<Array<Record<string, any>>> {
  let last: Array<Record<string, any>> = [];
  await until(
    async () => {
      last = await Promise.all(messages.map((m) => message(m.id)));
      return last.every((m) => m.status !== 'queued' && m.status !== 'sending');
    },
    `messages settled: ${messages.map((m) => m.text).join(', ')}`,
    timeoutMs,
  );
  return last;
}

/** The fake page's own record of what reached "WhatsApp" (kept in its IndexedDB: it spans the crashes). */
async function pageRecord(): Promise<Array<Record<string, any>>> {
  const r = await call('GET', `/api/demo/${ID}/sent`);
  if (r.status !== 200) throw new Error(`sent record: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.sent;
}

const statusHooks = () =>
  receiver
    .accepted()
    .map((d) => JSON.parse(d.body) as Record<string, any>)
    .filter((b) => b.event === 'message.status' && b.instanceId === ID);

beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
  receiver = await startReceiver();
  await startSupervisor();
  const created = await call('POST', '/api/instances', { id: ID });
  expect(created.status).toBe(201);
  await until(async () => (await details()).connectionStatus === 'QR_REQUIRED', `${ID} showing a QR`, 90_000);
  expect((await call('POST', `/api/demo/${ID}/scan`)).status).toBe(200);
  await until(async () => (await details()).connectionStatus === 'CONNECTED', `${ID} CONNECTED`, 60_000);
  await sleep(SESSION_PERSIST_MS);
}, 240_000);

afterAll(async () => {
  if (run && run.proc.exitCode === null && run.proc.signalCode === null) {
    for (const [pid, cmd] of descendants(run.proc.pid!)) seen.set(pid, cmd);
    run.proc.kill('SIGTERM');
    await Promise.race([run.exited, sleep(SHUTDOWN_TIMEOUT_MS + 5_000)]);
    run.kill();
  }
  // Anything of ours still running after that: killed by its pid, never by name.
  await sleep(1_000);
  for (const p of findProcessesWithArg(root)) seen.set(p.pid, cmdlineOf(p.pid));
  for (const [pid, cmd] of seen) {
    if (!stillRunning(pid, cmd)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  await receiver?.close();
  await db?.drop();
}, 90_000);

/**
 * One crash: ordinary messages first, then a send that hangs in `mode`, a message queued behind
 * it, the SIGKILL while the first is `sending`, a restart on the same database and folder, then
 * ordinary messages again. Every verdict comes from the page's record and the API.
 */
async function crashWhileSending(mode: 'hang-after-record' | 'hang-before-record', to: string): Promise<void> {
  const tag = mode === 'hang-after-record' ? 'A' : 'B';
  const before = [await send(to, `${tag}1 before`), await send(to, `${tag}2 before`)];
  expect((await waitSettled(before)).map((m) => m.status)).toEqual(['sent', 'sent']);

  const armed = await call('POST', `/api/demo/${ID}/send-fault`, { mode, count: 1 });
  expect(armed.status, JSON.stringify(armed.json)).toBe(200);
  const hung = await send(to, `${tag}3 hung in ${mode}`);
  await until(async () => (await message(hung.id)).status === 'sending', `"${hung.text}" sending`, 30_000, 50);
  const behind = await send(to, `${tag}4 queued behind it`);
  if (mode === 'hang-after-record') {
    // WhatsApp has it; the worker never answered.
    await until(async () => (await pageRecord()).some((r) => r.id === hung.waMessageId), 'the page to record the hung message', 15_000, 100);
  }
  const atKill = await pageRecord();
  expect(atKill.filter((r) => r.id === hung.waMessageId)).toHaveLength(mode === 'hang-after-record' ? 1 : 0);
  expect((await message(hung.id)).status, 'still unanswered when the supervisor is killed').toBe('sending');
  expect((await message(behind.id)).status).toBe('queued');

  const { workerPid } = await killSupervisor();
  await startSupervisor();
  await waitReconnected(workerPid);

  const afterCrash = await waitSettled([hung, behind]);
  expect(afterCrash.map((m) => [m.status, m.reason])).toEqual([
    ['sent', null],
    ['sent', null],
  ]);
  const after = [await send(to, `${tag}5 after`), await send(to, `${tag}6 after`)];
  expect((await waitSettled(after)).map((m) => m.status)).toEqual(['sent', 'sent']);

  const all = [...before, hung, behind, ...after];
  const record = await pageRecord();
  // Each exactly once on the page, under the id the supervisor chose, in the order sent.
  for (const m of all) expect(record.filter((r) => r.id === m.waMessageId), `"${m.text}" on the page`).toHaveLength(1);
  expect(record.filter((r) => r.chatId === `${to}@c.us`).map((r) => r.body)).toEqual(all.map((m) => m.text));
  const final = await Promise.all(all.map((m) => message(m.id)));
  expect(final.map((m) => [m.status, m.waMessageId])).toEqual(all.map((m) => ['sent', m.waMessageId]));

  // And the receiver heard "sent" for each (a row the killed supervisor had claimed comes back
  // when its lease ends), and never failed, unknown or expired.
  const ids = new Set(all.map((m) => m.id));
  await until(
    () => all.every((m) => statusHooks().some((b) => b.data.messageId === m.id && b.data.status === 'sent')),
    'a message.status sent webhook for every message',
    120_000,
  );
  expect(statusHooks().filter((b) => ids.has(b.data.messageId) && b.data.status !== 'sent')).toEqual([]);
}

describe('SIGKILL of the supervisor while a message is sending', () => {
  it(
    'reports a message WhatsApp recorded before the kill as sent, on the page exactly once, after the restart (hang-after-record)',
    { timeout: 420_000 },
    async () => {
      await crashWhileSending('hang-after-record', '15551239001');
    },
  );

  it(
    'sends a message that never reached WhatsApp before the kill exactly once after the restart (hang-before-record)',
    { timeout: 420_000 },
    async () => {
      await crashWhileSending('hang-before-record', '15551239002');
    },
  );

  it('holds every accepted message exactly once on the page, none failed or unknown, and leaves no process behind on SIGTERM', { timeout: 120_000 }, async () => {
    const record = await pageRecord();
    const listed = await call('GET', `/api/instance/${ID}/messages?limit=200`);
    expect(listed.status).toBe(200);
    expect(new Set(listed.json.messages.map((m: { id: string }) => m.id))).toEqual(new Set(accepted.map((m) => m.id)));
    expect(listed.json.counts).toMatchObject({ queued: 0, sending: 0, failed: 0, unknown: 0, expired: 0, sent: accepted.length });
    // The page holds exactly what was accepted, each once: no repeat, nothing else.
    expect(record.map((r) => r.id).sort()).toEqual(accepted.map((m) => m.waMessageId).sort());
    expect(statusHooks().filter((b) => b.data.status !== 'sent')).toEqual([]);

    const tree = descendants(run!.proc.pid!);
    for (const [pid, cmd] of tree) seen.set(pid, cmd);
    run!.proc.kill('SIGTERM');
    expect(await run!.exited).toBe(0);
    const left = () => [
      ...[...seen].filter(([pid, cmd]) => stillRunning(pid, cmd)).map(([pid, cmd]) => `${pid} ${cmd.slice(0, 160)}`),
      ...chromiumOnProfile(root, ID).map((pid) => `${pid} (Chromium on the profile)`),
      ...findProcessesWithArg(root).map((p) => `${p.pid} ${p.cmdline.slice(0, 160)}`),
    ];
    await until(() => left().length === 0, 'every process of the supervisors to be gone', 20_000).catch(() => undefined);
    expect(left()).toEqual([]);
  });
});
