import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, lstatSync, mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { coerceError } from '../../lib/errors.js';
import { ConfigError } from '../errors/index.js';
import { instanceOfProfile, profileDir } from './session-path.js';
import { FAKE_WEB_DIR } from './web-source.js';
import type { WorkerUser } from './worker-user.js';

/** The first folder above `path` the user may not pass through (no search permission), or null. */
function blockedAncestor(path: string, user: WorkerUser): string | null {
  const chain: string[] = [];
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    chain.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of chain) {
    const s = statSync(dir);
    // The kernel applies the owner's bits to the owner, the group's to the group, others' to the rest.
    const bit = s.uid === user.uid ? 0o100 : s.gid === user.gid ? 0o010 : 0o001;
    // The bits can say no where an ACL entry or a supplementary group says yes (ensure-worker-user.sh
    // grants search with an ACL): then ask the kernel, as the user.
    if ((s.mode & bit) === 0 && !searchableAs(user, dir)) return `${dir} (mode ${(s.mode & 0o777).toString(8).padStart(4, '0')}, owner uid ${s.uid})`;
  }
  return null;
}

/** Whether the user may pass through `dir`, as the kernel decides (runuser: we are root here). */
function searchableAs(user: WorkerUser, dir: string): boolean {
  return spawnSync('runuser', ['-u', user.name, '--', 'test', '-x', dir], { stdio: 'ignore' }).status === 0;
}

/** Gives `path` and everything below it to the user (lchown: a symlink is changed, never followed). */
function chownTree(path: string, user: WorkerUser): void {
  lchownSync(path, user.uid, user.gid);
  if (lstatSync(path).isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), user);
}

/** Names wa-fleet writes in a folder it gives to the worker user; anything else there is not ours to give away. */
type Ours = (name: string) => boolean;
const SESSION_ENTRIES: Ours = (name) => instanceOfProfile(name) !== null || name === FAKE_WEB_DIR;
/** whatsapp-web.js's local web cache holds one `<version>.html` per WhatsApp Web version. */
const CACHE_ENTRIES: Ours = (name) => name.endsWith('.html');

/**
 * Makes `dir` exist, owned by the user and owner-only. A folder that was someone else's (kept by
 * a version that ran workers as root) is handed over with what wa-fleet wrote in it, and only if
 * that is all it holds: a mistyped path must not give a system folder away. A configured folder
 * may be a symlink: its target is what the browser writes in, so it is followed.
 */
function own(dir: string, user: WorkerUser, ours: Ours): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const s = statSync(dir);
  if (s.uid !== user.uid || s.gid !== user.gid) {
    const entries = readdirSync(dir);
    const foreign = entries.find((name) => !ours(name));
    if (foreign !== undefined) throw new Error(`it is uid ${s.uid}'s and holds "${foreign}", which wa-fleet did not write; give it to ${user.name} yourself (chown) or choose a folder of its own`);
    chownSync(dir, user.uid, user.gid);
    for (const name of entries) chownTree(join(dir, name), user);
  }
  if ((s.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
}

/**
 * A folder the workers write in (`setting` names it in the error): created owner-only for the
 * worker user, and checked to be reachable by it. Parents are created with the usual mode, so
 * the user can pass them; an existing parent that does not let it pass stops the start with one
 * line saying which, instead of every browser failing on a permission error.
 */
function grantFolder(path: string, user: WorkerUser, setting: string, ours: Ours): string {
  const abs = resolve(path);
  try {
    mkdirSync(dirname(abs), { recursive: true });
    own(abs, user, ours);
  } catch (err) {
    throw new ConfigError(setting, `${abs} cannot be made WORKER_USER ${user.name}'s: ${coerceError(err).message}`);
  }
  const blocked = blockedAncestor(realpathSync(abs), user);
  if (blocked) {
    throw new ConfigError(setting, `${abs} is out of reach of WORKER_USER ${user.name}: ${blocked} does not let it pass; run bash scripts/ensure-worker-user.sh (it grants search permission to that user only), or choose another folder`);
  }
  return abs;
}

/** Boot: the session root and the web cache become the worker user's (see `own`). */
export function grantStorage(user: WorkerUser, sessionRoot: string, cachePath: string): void {
  grantFolder(sessionRoot, user, 'SESSION_STORAGE_PATH', SESSION_ENTRIES);
  grantFolder(cachePath, user, 'CACHE_PATH', CACHE_ENTRIES);
}

/**
 * Before each launch: the instance's profile exists, owner-only, and is the worker user's (a
 * profile a root worker left is handed over whole). Chromium refuses a profile it cannot write.
 */
export function prepareProfile(sessionRoot: string, instanceId: string, user: WorkerUser): string {
  grantFolder(sessionRoot, user, 'SESSION_STORAGE_PATH', SESSION_ENTRIES);
  const profile = profileDir(sessionRoot, instanceId);
  own(profile, user, () => true);
  return profile;
}
