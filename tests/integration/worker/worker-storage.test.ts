import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { profileDir } from '../../../src/worker/session-path.js';
import { grantStorage, prepareProfile } from '../../../src/worker/worker-storage.js';
import { tempSessionRoot, testWorkerUser } from '../../support/workers.js';

const user = testWorkerUser();
const owner = (path: string) => {
  const s = lstatSync(path);
  return { uid: s.uid, gid: s.gid };
};
const mode = (path: string) => statSync(path).mode & 0o777;

// Changing owners takes root, as the supervisor is when workers run as WORKER_USER.
describe.skipIf(user === null)('worker storage, supervisor running as root', () => {
  const theUser = { uid: user?.uid, gid: user?.gid };

  it("gives the session root and the cache to the worker user, owner-only, with the profiles a root worker left in it", () => {
    const base = tempSessionRoot();
    const root = join(base, 'sessions');
    const oldProfile = profileDir(root, 'old');
    mkdirSync(join(oldProfile, 'Default'), { recursive: true });
    writeFileSync(join(oldProfile, 'Default', 'Cookies'), '');
    symlinkSync('/etc/passwd', join(oldProfile, 'link')); // handed over as a link, never followed
    mkdirSync(join(root, '.fake-web', 'old'), { recursive: true });

    grantStorage(user!, root, join(base, 'cache'));

    for (const dir of [root, join(base, 'cache')]) expect({ ...owner(dir), mode: mode(dir) }).toEqual({ ...theUser, mode: 0o700 });
    for (const path of [oldProfile, join(oldProfile, 'Default', 'Cookies'), join(oldProfile, 'link'), join(root, '.fake-web', 'old')]) {
      expect(owner(path), path).toEqual(theUser);
    }
    expect(owner('/etc/passwd')).toEqual({ uid: 0, gid: 0 });
  });

  it('refuses to give away a folder holding what wa-fleet did not write (a mistyped path), and changes nothing in it', () => {
    const root = join(tempSessionRoot(), 'etc-like');
    mkdirSync(join(root, 'ssh'), { recursive: true });
    mkdirSync(profileDir(root, 'a'));
    expect(() => grantStorage(user!, root, join(tempSessionRoot(), 'cache'))).toThrow(
      expect.objectContaining({
        setting: 'SESSION_STORAGE_PATH',
        message: `SESSION_STORAGE_PATH: ${root} cannot be made WORKER_USER ${user!.name}'s: it is uid 0's and holds "ssh", which wa-fleet did not write; give it to ${user!.name} yourself (chown) or choose a folder of its own`,
      }),
    );
    for (const path of [root, join(root, 'ssh'), profileDir(root, 'a')]) expect(owner(path), path).toEqual({ uid: 0, gid: 0 });
  });

  it("creates an instance's profile for the worker user, owner-only, before its launch", () => {
    const root = tempSessionRoot();
    const profile = prepareProfile(root, 'fresh', user!);
    expect(profile).toBe(profileDir(root, 'fresh'));
    expect({ ...owner(profile), mode: mode(profile) }).toEqual({ ...theUser, mode: 0o700 });
  });

  it('refuses a session root the worker user cannot reach, in one line naming SESSION_STORAGE_PATH and the folder in the way', () => {
    const closed = mkdtempSync(join(tempSessionRoot(), 'closed-')); // 0700, root's
    const root = join(closed, 'sessions');
    expect(() => grantStorage(user!, root, join(tempSessionRoot(), 'cache'))).toThrow(
      expect.objectContaining({
        setting: 'SESSION_STORAGE_PATH',
        message: `SESSION_STORAGE_PATH: ${root} is out of reach of WORKER_USER ${user!.name}: ${closed} (mode 0700, owner uid 0) does not let it pass; run bash scripts/ensure-worker-user.sh (it grants search permission to that user only), or choose another folder`,
      }),
    );
  });

  it('lets the worker user through a closed folder once ensure-worker-user.sh gave it search by an ACL entry, and nobody else', () => {
    const closed = mkdtempSync(join(tempSessionRoot(), 'acl-')); // 0700, root's
    const root = join(closed, 'sessions');
    // The script itself, as the quick start runs it (it installs Debian's acl package when setfacl is missing).
    execFileSync('bash', ['scripts/ensure-worker-user.sh'], {
      env: { ...process.env, WORKER_USER: user!.name, SESSION_STORAGE_PATH: root, CACHE_PATH: join(tempSessionRoot(), 'cache') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    grantStorage(user!, root, join(tempSessionRoot(), 'cache'));
    expect(owner(root)).toEqual(theUser);
    expect(spawnSync('runuser', ['-u', 'nobody', '--', 'test', '-x', closed]).status).not.toBe(0);
  });
});
