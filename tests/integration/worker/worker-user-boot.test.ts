import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../src/paths.js';
import { startChild, type RunningChild } from '../../support/child.js';
import { tempSessionRoot, testWorkerUser } from '../../support/workers.js';

let child: RunningChild | undefined;
afterEach(() => child?.kill());

/** The supervisor from its sources, as root; it must stop before it touches the database. */
function supervisor(env: Record<string, string>): RunningChild {
  child = startChild(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'src/main.ts')], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, API_KEY: 'boot-check-key-0123456789', MYSQL_URL: 'mysql://root@127.0.0.1:1/none', PORT: '0', HOST: '127.0.0.1', ...env },
  });
  return child;
}

// A root supervisor runs its browsers as WORKER_USER; these are its refusals to start without one.
describe.skipIf(testWorkerUser() === null)('a supervisor running as root', () => {
  it('refuses to start with one line naming WORKER_USER when that user does not exist', async () => {
    const run = supervisor({ WORKER_USER: 'wa-fleet-no-such-user', SESSION_STORAGE_PATH: join(tempSessionRoot(), 'sessions') });
    expect(await run.exited).toBe(1);
    expect(run.output().trim()).toBe('wa-fleet: invalid setting WORKER_USER: user "wa-fleet-no-such-user" does not exist; create it with: bash scripts/ensure-worker-user.sh');
  });

  it('refuses to start, naming SESSION_STORAGE_PATH, when the worker user cannot reach the session root', async () => {
    const closed = mkdtempSync(join(tempSessionRoot(), 'closed-'));
    const run = supervisor({ SESSION_STORAGE_PATH: join(closed, 'sessions'), CACHE_PATH: join(tempSessionRoot(), 'cache') });
    expect(await run.exited).toBe(1);
    const failure = run.output().split('\n').filter((line) => line.includes('startup failed'));
    expect(failure).toHaveLength(1);
    expect(failure[0]).toContain(`startup failed: SESSION_STORAGE_PATH: ${join(closed, 'sessions')} is out of reach of WORKER_USER ${testWorkerUser()!.name}: ${closed} (mode 0700`);
  });
});
