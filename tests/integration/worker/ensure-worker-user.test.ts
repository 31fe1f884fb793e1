import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../src/paths.js';
import { resolveWorkerUser } from '../../../src/worker/worker-user.js';
import { tempSessionRoot, testWorkerUser } from '../../support/workers.js';

const SCRIPT = join(PACKAGE_ROOT, 'scripts/ensure-worker-user.sh');
const NAME = `wa-fleet-t${process.pid}`;

function ensure(name: string, asNobody = false) {
  const [command, args] = asNobody ? ['su', ['nobody', '-s', '/bin/bash', '-c', `WORKER_USER=${name} bash ${SCRIPT}`]] : ['bash', [SCRIPT]];
  const run = spawnSync(command, args as string[], { env: { ...process.env, WORKER_USER: name }, encoding: 'utf8' });
  return { code: run.status, stderr: run.stderr.trim() };
}

afterAll(() => {
  spawnSync('userdel', [NAME]);
});

// Creating users takes root, as the quick start and the test entry run it.
describe.skipIf(testWorkerUser() === null)('scripts/ensure-worker-user.sh', () => {
  it('creates an unprivileged system user with no home and no login shell, and does nothing the second time', () => {
    expect(ensure(NAME)).toEqual({ code: 0, stderr: `ensure-worker-user: created the system user ${NAME} (workers and Chromium run as it)` });
    const [, , uid, , , home, shell] = execFileSync('getent', ['passwd', NAME], { encoding: 'utf8' }).trim().split(':');
    expect(Number(uid)).toBeGreaterThan(0);
    expect({ home, shell }).toEqual({ home: '/nonexistent', shell: expect.stringMatching(/nologin$/) });
    expect(resolveWorkerUser(NAME, 0)?.uid).toBe(Number(uid));
    expect(ensure(NAME)).toEqual({ code: 0, stderr: '' });
  });

  it('lets the user through a closed folder above SESSION_STORAGE_PATH with an ACL entry (search only), and nobody else', () => {
    const closed = mkdtempSync(join(tempSessionRoot(), 'closed-')); // 0700, root's: like /root
    const run = spawnSync('bash', [SCRIPT], { env: { ...process.env, WORKER_USER: NAME, SESSION_STORAGE_PATH: join(closed, 'app', 'data', 'sessions') }, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stderr).toContain(`gave ${NAME} search permission (only) on ${closed}`);
    expect(spawnSync('runuser', ['-u', NAME, '--', 'test', '-x', closed]).status).toBe(0);
    expect(spawnSync('runuser', ['-u', NAME, '--', 'ls', closed]).status).not.toBe(0);
    expect(spawnSync('runuser', ['-u', 'nobody', '--', 'test', '-x', closed]).status).not.toBe(0);
    // Once through, the next call has nothing to grant.
    const again = spawnSync('bash', [SCRIPT], { env: { ...process.env, WORKER_USER: NAME, SESSION_STORAGE_PATH: join(closed, 'app', 'data', 'sessions') }, encoding: 'utf8' });
    expect(again.stderr).not.toContain(closed);
  });

  it('refuses a name that is not a user name', () => {
    const run = ensure('Bad Name;rm');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('is not a valid user name');
  });

  it('does nothing when not run as root', () => {
    const run = ensure(`${NAME}x`, true);
    expect(run).toEqual({ code: 0, stderr: 'ensure-worker-user: not root: workers run as nobody, WORKER_USER is not needed' });
    expect(spawnSync('getent', ['passwd', `${NAME}x`]).status).not.toBe(0);
  });
});
