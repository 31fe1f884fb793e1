import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep } from '../../../lib/timeout.js';
import { reapOrphans } from '../../../src/worker/reaper.js';
import { profileDir } from '../../../src/worker/session-path.js';
import type { WorkerUser } from '../../../src/worker/worker-user.js';
import { tempSessionRoot, testWorkerUser } from '../../support/workers.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A long-running process whose command line looks like a browser on `profile`. */
async function fakeBrowser(profile: string, user: WorkerUser | null = null): Promise<ChildProcess> {
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)', '--', `--user-data-dir=${profile}`], { stdio: 'ignore', ...as });
  children.push(child);
  await sleep(100);
  return child;
}

const exited = (c: ChildProcess) => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(true) : c.once('exit', resolve)));

describe('reapOrphans', () => {
  it('kills browsers on profiles under the session root and leaves every other process alone', async () => {
    const root = tempSessionRoot();
    const orphan = await fakeBrowser(profileDir(root, 'left-behind'));
    const elsewhere = await fakeBrowser(join(root, '..', 'not-ours', 'session-x'));
    const result = await reapOrphans(root);
    expect(result.killedPids).toEqual([orphan.pid]);
    await exited(orphan);
    expect(orphan.signalCode).toBe('SIGKILL');
    expect(elsewhere.exitCode).toBeNull();
    expect(elsewhere.signalCode).toBeNull();
  });

  it.skipIf(testWorkerUser() === null)("kills a root supervisor's orphans that run as WORKER_USER", async () => {
    const root = tempSessionRoot();
    const orphan = await fakeBrowser(profileDir(root, 'as-worker-user'), testWorkerUser());
    expect((await reapOrphans(root)).killedPids).toEqual([orphan.pid]);
    await exited(orphan);
    expect(orphan.signalCode).toBe('SIGKILL');
  });

  it('reaps only the named instance when given one', async () => {
    const root = tempSessionRoot();
    const target = await fakeBrowser(profileDir(root, 'target'));
    const neighbour = await fakeBrowser(profileDir(root, 'neighbour'));
    expect((await reapOrphans(root, 'target')).killedPids).toEqual([target.pid]);
    await exited(target);
    expect(neighbour.signalCode).toBeNull();
  });

  it('removes Singleton* locks of profiles nobody runs, including a lock naming another host', async () => {
    const root = tempSessionRoot();
    const profile = profileDir(root, 'locked');
    mkdirSync(profile, { recursive: true });
    symlinkSync('another-host-1234', join(profile, 'SingletonLock'));
    symlinkSync('/tmp/nowhere/socket', join(profile, 'SingletonSocket'));
    writeFileSync(join(profile, 'SingletonCookie'), '');
    writeFileSync(join(profile, 'Preferences'), '{}');
    const result = await reapOrphans(root);
    expect(result.removedLocks.sort()).toEqual(['SingletonCookie', 'SingletonLock', 'SingletonSocket'].map((f) => join(profile, f)));
    expect(() => lstatSync(join(profile, 'SingletonLock'))).toThrow();
    expect(existsSync(join(profile, 'Preferences'))).toBe(true);
  });

  it('copes with a session root that does not exist yet', async () => {
    expect(await reapOrphans(join(tempSessionRoot(), 'missing'))).toEqual({ killedPids: [], removedLocks: [] });
  });
});
