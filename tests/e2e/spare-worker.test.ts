import { chmodSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { childrenOf, descendantsOf } from '../../lib/proc-memory.js';
import { browserHome } from '../../src/worker/environment.js';
import { workerIdentity, WorkerHandle } from '../../src/worker/handle.js';
import { profileDir } from '../../src/worker/session-path.js';
import { SpareWorker } from '../../src/worker/spare-worker.js';
import { isAlive } from '../support/processes.js';
import { waitFor } from '../support/webhook-receiver.js';
import { EventLog, fakeInit, tempSessionRoot, testWorkerUser } from '../support/workers.js';

/*
 * The spare worker (WORKER_SPARE=on): forked ahead with the library loaded, taken by the next
 * start, which then pays only for the browser. Real workers, real Chromium, the fake page.
 */

const root = tempSessionRoot();
// The spare's HOME until it is an instance's (the product gives it CACHE_PATH, the worker user's):
// the library looks for its config under it at load, so the worker user must be able to pass through.
const home = mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? '/tmp', 'spare-home-'));
chmodSync(home, 0o711);
const SECRETS = { API_KEY: 'spare-check-api-key-0123456789', WEBHOOK_SECRET: 'spare-check-webhook-secret', MYSQL_URL: 'mysql://wa:spare-check-db-password@db.invalid/x' };

const readProc = (pid: number, file: string) => {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1');
  } catch {
    return null;
  }
};
/** Live (non-zombie) children of this test process: where every spare it forks is. */
const liveChildren = () => childrenOf(process.pid).filter((pid) => !/^\S+ \(.*\) Z /s.test(readProc(pid, 'stat') ?? 'x (gone) Z '));

let spare: SpareWorker | null = null;
const taken: WorkerHandle[] = [];
const newSpare = () => (spare = new SpareWorker(() => WorkerHandle.fork(workerIdentity(testWorkerUser(), home)), 30_000));
afterEach(async () => {
  await spare?.close();
  await Promise.all(taken.splice(0).map((w) => w.stop(5_000)));
});

describe('the spare worker', { timeout: 90_000 }, () => {
  it("is the process a start takes: it becomes the instance's worker, reaches the QR with its browser on the instance's profile and HOME, and holds none of the secrets around it", async () => {
    const saved = Object.fromEntries(Object.keys(SECRETS).map((k) => [k, process.env[k]]));
    Object.assign(process.env, SECRETS);
    try {
      newSpare().fill();
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await waitFor(() => spare!.readyPid !== null, 'the spare ready', 30_000);
    const pid = spare!.readyPid;
    const worker = spare!.take()!;
    expect(worker.pid).toBe(pid);
    expect(spare!.take()).toBeNull(); // taken once: the next start forks (or takes the next spare)
    taken.push(worker);
    const log = new EventLog();
    await worker.init({ init: fakeInit(root, 'spare-1'), startTimeoutMs: 30_000, onEvent: log.push, user: testWorkerUser() }, 30_000);
    await log.waitFor('qr');
    const profile = profileDir(root, 'spare-1');
    expect(readProc(worker.browserPid!, 'environ')!.split('\0')).toContain(`HOME=${browserHome(profile)}`);
    const user = testWorkerUser();
    if (user) expect(statSync(profile).uid).toBe(user.uid);
    for (const p of [worker.pid!, ...descendantsOf(worker.pid!)]) {
      const environ = readProc(p, 'environ');
      if (environ === null) continue;
      for (const value of Object.values(SECRETS)) expect(environ, `pid ${p}`).not.toContain(value);
    }
  });

  it('is never handed out once dead, and the next fill forks a new one', async () => {
    newSpare().fill();
    await waitFor(() => spare!.readyPid !== null, 'the spare ready', 30_000);
    const first = spare!.readyPid!;
    process.kill(first, 'SIGKILL');
    await waitFor(() => spare!.readyPid === null, 'the dead spare dropped', 10_000);
    expect(spare!.take()).toBeNull();
    spare!.fill();
    await waitFor(() => spare!.readyPid !== null, 'a new spare ready', 30_000);
    expect(spare!.readyPid).not.toBe(first);
  });

  it('is killed by close, ready or still loading, and none is forked after it', async () => {
    newSpare().fill();
    await waitFor(() => spare!.readyPid !== null, 'the spare ready', 30_000);
    const ready = spare!.readyPid!;
    await spare!.close();
    expect(isAlive(ready) && liveChildren().includes(ready)).toBe(false);
    spare!.fill();
    expect(liveChildren()).toEqual([]);

    // Closed while the spare still loads the library.
    newSpare().fill();
    expect(liveChildren()).toHaveLength(1);
    await spare!.close();
    expect(liveChildren()).toEqual([]);
  });
});
