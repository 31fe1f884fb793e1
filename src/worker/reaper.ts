import { existsSync, lstatSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { processesMatching } from '../../lib/proc-cmdline.js';
import { sleep } from '../../lib/timeout.js';
import { instanceOfProfile, profileDir, remoteProfileDir } from './session-path.js';

/** Chromium's profile locks. A stale SingletonLock naming another host makes a launch fail (exit 21). */
const SINGLETON_FILES = ['SingletonLock', 'SingletonSocket', 'SingletonCookie'];
const USER_DATA_DIR = '--user-data-dir=';

export interface ReapResult {
  killedPids: number[];
  removedLocks: string[];
}

function profileOf(argv: string[]): string | null {
  const arg = argv.find((a) => a.startsWith(USER_DATA_DIR));
  return arg ? resolve(arg.slice(USER_DATA_DIR.length)) : null;
}

/**
 * Kills Chromium processes running on profiles under `sessionRoot` (all of them, or one
 * instance's) and removes the `Singleton*` locks of profiles no live process owns. Run before any
 * worker starts (a supervisor killed with SIGKILL leaves such browsers behind) and before a hard
 * restart of one instance. Never touches a process or file outside the session root.
 */
export async function reapOrphans(sessionRoot: string, instanceId?: string): Promise<ReapResult> {
  const root = resolve(sessionRoot);
  // An instance's Chromium runs on its folder (LocalAuth) or on RemoteAuth's folder inside it (SESSION_STORE=mysql).
  const own = instanceId ? profileDir(root, instanceId) : null;
  const inScope = (dir: string | null): dir is string =>
    dir !== null && (own ? dir === own || dir.startsWith(own + sep) : dir.startsWith(root + sep));
  const victims = processesMatching((argv) => inScope(profileOf(argv)));
  for (const { pid } of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  const killedPids = victims.map((v) => v.pid);
  for (let i = 0; i < 40 && processesMatching((argv) => inScope(profileOf(argv))).length > 0; i++) await sleep(50);

  const owned = new Set(processesMatching((argv) => inScope(profileOf(argv))).map((p) => profileOf(p.argv)));
  const ids = instanceId ? [instanceId] : existsSync(root) ? readdirSync(root).flatMap((name) => instanceOfProfile(name) ?? []) : [];
  const profiles = ids.flatMap((id) => [profileDir(root, id), remoteProfileDir(root, id)]);
  const removedLocks: string[] = [];
  for (const dir of profiles.filter((d) => !owned.has(d))) {
    for (const file of SINGLETON_FILES) {
      const path = join(dir, file);
      if (present(path)) {
        rmSync(path, { force: true });
        removedLocks.push(path);
      }
    }
  }
  return { killedPids, removedLocks };
}

/** existsSync follows links, and a SingletonLock is a link to `host-pid` that never exists as a file. */
function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
