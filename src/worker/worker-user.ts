import { execFileSync } from 'node:child_process';
import { ConfigError } from '../errors/index.js';

/** The unprivileged account workers and their Chromium run as when the supervisor is root. */
export interface WorkerUser {
  name: string;
  uid: number;
  gid: number;
}

/** The account's passwd entry through NSS (`getent`), so users from LDAP or systemd work too; null when there is none. */
function lookup(name: string): WorkerUser | null {
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null; // getent exits 2 for an unknown name
  }
  const [, , uid, gid] = line.split(':');
  if (!uid || !gid) return null;
  return { name, uid: Number(uid), gid: Number(gid) };
}

/**
 * Who workers run as: null when the supervisor is not root (they keep its user, and WORKER_USER
 * is ignored). As root, a browser rendering untrusted pages must not share the supervisor's
 * powers, so the setting must name an existing unprivileged user; otherwise the supervisor
 * refuses to start.
 */
export function resolveWorkerUser(name: string, supervisorUid = process.getuid?.() ?? -1): WorkerUser | null {
  if (supervisorUid !== 0) return null;
  const user = lookup(name);
  if (!user) throw new ConfigError('WORKER_USER', `user "${name}" does not exist; create it with: bash scripts/ensure-worker-user.sh`);
  if (user.uid === 0) throw new ConfigError('WORKER_USER', `"${name}" is root (uid 0); name an unprivileged user, e.g. the one bash scripts/ensure-worker-user.sh creates`);
  return user;
}
