import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { processesMatching } from '../../lib/proc-cmdline.js';
import { descendantsOf } from '../../lib/proc-memory.js';
import { sleep } from '../../lib/timeout.js';
import { WorkerHandle } from '../../src/worker/handle.js';
import { reapOrphans } from '../../src/worker/reaper.js';
import { browserHome } from '../../src/worker/environment.js';
import type { WorkerInit } from '../../src/worker/protocol.js';
import { profileDir } from '../../src/worker/session-path.js';
import { fakeInit, startFakeWorker, stopAllWorkers, tempSessionRoot, testWorkerUser } from '../support/workers.js';

const root = tempSessionRoot();
afterEach(stopAllWorkers);

const simulate = (h: WorkerHandle, action: string, ...args: unknown[]) => h.demo(action, args, 3_000);

function chromiumOf(profile: string): number[] {
  return processesMatching((argv) => argv.some((a) => a === `--user-data-dir=${profile}`)).map((p) => p.pid);
}

/** A worker whose phone has scanned the QR: paired and ready. */
async function linkedWorker(id: string, init: WorkerInit = fakeInit(root, id)) {
  const w = await startFakeWorker(init);
  await w.log.waitFor('qr');
  await simulate(w.handle, 'scan');
  await w.log.waitFor('ready');
  return w;
}

function readProc(pid: number, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1');
  } catch {
    return null; // exited meanwhile (a short-lived Chromium helper)
  }
}

/** The worker and its whole tree (browser, zygotes, renderers, utilities), read from /proc now. */
const treeOf = (workerPid: number) => [workerPid, ...descendantsOf(workerPid)];

/** Real, effective, saved and filesystem uid of a live process (the `Uid:` line of its status). */
function uidsOf(pid: number): number[] | null {
  const line = /^Uid:\s+(.*)$/m.exec(readProc(pid, 'status') ?? '');
  return line ? line[1]!.trim().split(/\s+/).map(Number) : null;
}

/** Pids of `pids` still running: gone and zombie ones (nothing left to kill) are not. */
const running = (pids: number[]) => pids.filter((pid) => !/^\S+ \(.*\) Z /s.test(readProc(pid, 'stat') ?? 'x (gone) Z '));

const SECRETS = { API_KEY: 'env-check-api-key-0123456789', WEBHOOK_SECRET: 'env-check-webhook-secret', MYSQL_URL: 'mysql://wa:env-check-db-password@db.invalid/x' };

/** Starts a worker while the supervisor's own environment holds a key, a secret and a database URL. */
async function startWithSecretsAround(init: WorkerInit) {
  const saved = Object.fromEntries(Object.keys(SECRETS).map((k) => [k, process.env[k]]));
  Object.assign(process.env, SECRETS);
  try {
    return await startFakeWorker(init);
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

/**
 * Cases that depend on how Chromium runs, under both BROWSER_SANDBOX values: who the processes
 * are, what their environment holds, sessions, crashes, and what a killed worker leaves.
 */
describe.each([
  { mode: 'off', sandbox: false },
  { mode: 'on', sandbox: true },
])('worker with BROWSER_SANDBOX=$mode', { timeout: 90_000 }, ({ mode, sandbox }) => {
  const init = (id: string): WorkerInit => ({ ...fakeInit(root, `${id}-${mode}`), browserSandbox: sandbox });
  const user = testWorkerUser();

  it('shows a QR first, becomes ready after a scan, and restores the session without a QR after a restart', async () => {
    const first = await startFakeWorker(init('restore'));
    const qr = await first.log.waitFor('qr');
    expect(typeof (qr.payload as { qr: string }).qr).toBe('string');
    await simulate(first.handle, 'scan');
    await first.log.waitFor('authenticated');
    const ready = await first.log.waitFor('ready');
    expect(ready.payload).toMatchObject({ wid: expect.stringMatching(/@c\.us$/) });
    await first.handle.stop(5_000);

    const second = await startFakeWorker(init('restore'));
    await second.log.waitFor('ready');
    expect(second.log.count('qr')).toBe(0);
  });

  it.skipIf(user === null)('runs the worker and every Chromium process as WORKER_USER, never root, on a profile that user owns alone (0700)', async () => {
    const w = await linkedWorker('as-user', init('as-user'));
    const profile = profileDir(root, `as-user-${mode}`);
    const pids = treeOf(w.handle.pid!);
    expect(pids).toContain(w.handle.browserPid);
    const seen = running(pids).map((pid) => ({ pid, uids: uidsOf(pid) }));
    expect(seen.length).toBeGreaterThanOrEqual(sandbox ? 3 : 2); // the sandbox keeps Chromium's own processes
    for (const { pid, uids } of seen) expect(uids, `pid ${pid} ${readProc(pid, 'cmdline')?.slice(0, 80)}`).toEqual([user!.uid, user!.uid, user!.uid, user!.uid]);
    const stat = statSync(profile);
    expect({ uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o777 }).toEqual({ uid: user!.uid, gid: user!.gid, mode: 0o700 });
    // Chromium writes outside its profile too: HOME is inside the profile, never the supervisor's.
    expect(readProc(w.handle.browserPid!, 'environ')!.split('\0')).toContain(`HOME=${browserHome(profile)}`);
    expect(readProc(w.handle.pid!, 'environ')!.split('\0')).toContain(`HOME=${browserHome(profile)}`);
  });

  it(`starts Chromium ${sandbox ? 'with its sandbox, multi-process' : 'single-process, without its sandbox'}`, async () => {
    const w = await startFakeWorker(init('flags'));
    await w.log.waitFor('qr');
    const argv = readProc(w.handle.browserPid!, 'cmdline')!.split('\0');
    const unsandboxed = ['--no-sandbox', '--single-process', '--no-zygote'].filter((f) => argv.includes(f));
    expect(unsandboxed).toEqual(sandbox ? [] : ['--no-sandbox', '--single-process', '--no-zygote']);
    // With the sandbox, the renderer runs under a seccomp filter (mode 2) in its own user namespace.
    const filtered = running(descendantsOf(w.handle.browserPid!)).filter((pid) => /^Seccomp:\s+2$/m.test(readProc(pid, 'status') ?? ''));
    expect(filtered.length > 0).toBe(sandbox);
  });

  it('starts the worker and its Chromium with an allowlisted environment: no key, secret or database URL', async () => {
    const w = await startWithSecretsAround(init('env-check'));
    await w.log.waitFor('qr');
    const pids = treeOf(w.handle.pid!);
    expect(pids).toContain(w.handle.browserPid);
    for (const pid of pids) {
      const environ = readProc(pid, 'environ');
      if (environ === null) continue;
      for (const value of Object.values(SECRETS)) expect(environ, `pid ${pid}`).not.toContain(value);
      expect(environ, `pid ${pid}`).not.toMatch(/(^|\0)(API_KEY|WEBHOOK_SECRET|MYSQL_URL)=/);
    }
    expect(readProc(w.handle.pid!, 'environ')).toMatch(/(^|\0)PATH=/);
  });

  it('reports a crashed tab', async () => {
    const w = await linkedWorker('crash', init('crash'));
    const since = w.log.mark();
    await simulate(w.handle, 'crash');
    const seen = await w.log.waitFor(['page_closed', 'browser_disconnected'], 10_000, since);
    expect(['page_closed', 'browser_disconnected']).toContain(seen.event);
  });

  it('leaves no Chromium process within 2 s of a SIGKILL of the worker, and the profile starts again', async () => {
    const w = await linkedWorker('sigkill', init('sigkill'));
    const profile = profileDir(root, `sigkill-${mode}`);
    const browserTree = [w.handle.browserPid!, ...descendantsOf(w.handle.browserPid!)];
    expect(chromiumOf(profile).length).toBeGreaterThan(0);
    process.kill(w.handle.pid!, 'SIGKILL');
    const killedAt = Date.now();
    while ((chromiumOf(profile).length > 0 || running(browserTree).length > 0) && Date.now() - killedAt < 2_000) await sleep(50);
    expect(chromiumOf(profile)).toEqual([]);
    expect(running(browserTree)).toEqual([]);

    const again = await startFakeWorker(init('sigkill'));
    await again.log.waitFor('ready');
    expect(again.log.count('qr')).toBe(0);
  });
});

describe('worker on the fake WhatsApp Web', { timeout: 90_000 }, () => {
  it('reports a logout from the phone once, forgets the session, and does not reconnect on its own', async () => {
    const w = await linkedWorker('logout');
    const since = w.log.mark();
    await simulate(w.handle, 'logout');
    const disconnected = await w.log.waitFor('disconnected', 10_000, since);
    expect(disconnected.payload).toEqual({ reason: 'LOGOUT' });
    await w.log.waitFor('qr', 10_000, since);
    await sleep(1_500);
    expect(w.log.count('disconnected', since)).toBe(1);
    expect(w.log.count('ready', since)).toBe(0);
    await w.handle.stop(5_000);

    const next = await startFakeWorker(fakeInit(root, 'logout'));
    await next.log.waitFor('qr');
  });

  it('logs out on request: LOGOUT once, and the profile is wiped (the next start on it asks for a QR)', async () => {
    const w = await linkedWorker('api-logout');
    await w.handle.logout(10_000);
    expect(w.log.count('disconnected')).toBe(1);
    expect(w.log.seen.find((e) => e.event === 'disconnected')?.payload).toEqual({ reason: 'LOGOUT' });
    expect(w.log.count('browser_disconnected')).toBe(0);
    await w.handle.stop(5_000);
    // A saved session would come back ready without a QR: the wiped one cannot.
    const next = await startFakeWorker(fakeInit(root, 'api-logout'));
    await next.log.waitFor('qr');
    expect(next.log.count('ready')).toBe(0);
  });

  it.each(['CONFLICT', 'UNPAIRED'])('reports %s as a disconnect with that reason', async (state) => {
    const w = await linkedWorker(`state-${state.toLowerCase()}`);
    const since = w.log.mark();
    await simulate(w.handle, state === 'CONFLICT' ? 'conflict' : 'unpair');
    const d = await w.log.waitFor('disconnected', 10_000, since);
    expect(d.payload).toEqual({ reason: state });
  });

  it('answers deep and gc with what the page holds, and restarts its client in place without a QR', async () => {
    const w = await linkedWorker('deep-gc');
    expect(statSync(profileDir(root, 'deep-gc')).mode & 0o777).toBe(0o700);
    const deep = await w.handle.deep(5_000);
    expect(deep).toMatchObject({ storePresent: true, socketState: 'CONNECTED' });
    expect(deep.jsHeapUsedBytes).toBeGreaterThan(0);
    await simulate(w.handle, 'allocMb', 60);
    await sleep(500);
    const grown = await w.handle.gc(5_000);
    expect(grown.jsHeapUsedBytes! - deep.jsHeapUsedBytes!).toBeGreaterThan(40 * 1024 * 1024);
    expect(grown.workerHeapUsedBytes).toBeGreaterThan(0);
    await simulate(w.handle, 'release');
    await sleep(200);
    const released = await w.handle.gc(5_000);
    expect(grown.jsHeapUsedBytes! - released.jsHeapUsedBytes!).toBeGreaterThan(40 * 1024 * 1024);

    const since = w.log.mark();
    await w.handle.restart(10_000, 40_000);
    await w.log.waitFor('ready', 30_000, since);
    expect(w.log.count('qr', since)).toBe(0);
    expect(w.log.count('browser_disconnected', since)).toBe(0);
  });

  it('reports TIMEOUT as a state change only', async () => {
    const w = await linkedWorker('state-timeout');
    const since = w.log.mark();
    await simulate(w.handle, 'setState', 'TIMEOUT');
    const change = await w.log.waitFor('change_state', 10_000, since);
    expect(change.payload).toEqual({ state: 'TIMEOUT' });
    await sleep(1_000);
    expect(w.log.count('disconnected', since)).toBe(0);
  });

  it('answers ping with the state, and fails it by timeout when the page is frozen', async () => {
    const w = await linkedWorker('freeze');
    const ok = await w.handle.ping(2_000);
    expect(ok.state).toBe('CONNECTED');
    await simulate(w.handle, 'freeze');
    await sleep(200);
    const started = Date.now();
    await expect(w.handle.ping(2_000)).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('reports unhandled rejections from inside the library as errors, and keeps running', async () => {
    // The fake fails the next boot; a reload makes the library re-inject on its own (un-awaited)
    // and reject with 'auth timeout' after authTimeoutMs.
    const w = await startFakeWorker({ ...fakeInit(root, 'unhandled'), authTimeoutMs: 2_000 });
    await w.log.waitFor('qr');
    await simulate(w.handle, 'failNextInits', 1);
    await simulate(w.handle, 'reload');
    const err = await w.log.waitFor('error', 15_000, 0, (p) => (p as { source: string }).source === 'unhandled_rejection');
    expect(err.payload).toMatchObject({ message: 'auth timeout' });
    expect(w.handle.alive).toBe(true);
  });

  it('starts a profile whose SingletonLock names another host, after reaping', async () => {
    const w = await linkedWorker('foreign-lock');
    await w.handle.stop(5_000);
    const profile = profileDir(root, 'foreign-lock');
    mkdirSync(profile, { recursive: true });
    symlinkSync('some-other-host-4242', join(profile, 'SingletonLock'));
    const reaped = await reapOrphans(root);
    expect(reaped.removedLocks).toContain(join(profile, 'SingletonLock'));
    expect(existsSync(join(profile, 'SingletonLock'))).toBe(false);
    const again = await startFakeWorker(fakeInit(root, 'foreign-lock'));
    await again.log.waitFor('ready');
  });

  it('kills a worker whose start fails and never hands it out', async () => {
    const attempt = WorkerHandle.start({ init: { ...fakeInit(root, 'bad-chrome'), chromePath: '/nonexistent/chromium' }, startTimeoutMs: 20_000 });
    await expect(attempt).rejects.toMatchObject({ code: 'WORKER_START_FAILED' });
  });
});
