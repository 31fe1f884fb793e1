import { mkdirSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { isInstanceId } from '../domain/instance.js';
import { AppError, InvalidInstanceIdError } from '../errors/index.js';

/** LocalAuth keeps a client's profile in `<dataPath>/session-<clientId>`. */
const PROFILE_PREFIX = 'session-';

export class PathOutsideStorageError extends AppError {
  constructor(path: string) {
    super('PATH_OUTSIDE_STORAGE', `refusing a path outside the session storage: ${path}`);
  }
}

/**
 * Absolute root of all profiles, created owner-only (profiles hold the WhatsApp session keys).
 * Missing parents get the usual mode: workers running as another user must pass through them.
 */
export function ensureSessionRoot(root: string): string {
  const abs = resolve(root);
  mkdirSync(dirname(abs), { recursive: true });
  mkdirSync(abs, { recursive: true, mode: 0o700 });
  return abs;
}

/**
 * The profile folder of an instance. The id is validated, and the resolved path is checked to
 * lie directly inside the root, so no id (`..`, `/`, encoded tricks) can name anything outside.
 */
export function profileDir(root: string, instanceId: string): string {
  if (!isInstanceId(instanceId)) throw new InvalidInstanceIdError();
  const abs = resolve(root);
  const dir = resolve(join(abs, `${PROFILE_PREFIX}${instanceId}`));
  if (!dir.startsWith(abs + sep) || dir.slice(abs.length + 1).includes(sep)) throw new PathOutsideStorageError(dir);
  return dir;
}

/**
 * RemoteAuth's name for an instance's session: the key of its stored copy and the name of
 * Chromium's profile folder (RemoteAuth builds `RemoteAuth-<clientId>` itself).
 */
export function remoteSessionName(instanceId: string): string {
  if (!isInstanceId(instanceId)) throw new InvalidInstanceIdError();
  return `RemoteAuth-${instanceId}`;
}

/**
 * With SESSION_STORE=mysql, Chromium's profile: RemoteAuth's folder inside the instance's own
 * (`<root>/session-<id>/RemoteAuth-<id>`), so HOME, the zip and RemoteAuth's staging folder stay
 * in the instance's folder, which remove and logout wipe whole.
 */
export function remoteProfileDir(root: string, instanceId: string): string {
  return join(profileDir(root, instanceId), remoteSessionName(instanceId));
}

/** The instance id a profile folder name belongs to, or null for anything else in the root. */
export function instanceOfProfile(folderName: string): string | null {
  if (!folderName.startsWith(PROFILE_PREFIX)) return null;
  const id = folderName.slice(PROFILE_PREFIX.length);
  return isInstanceId(id) ? id : null;
}
