import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';

/*
 * An instance's folder (`<root>/session-<id>`, see session-path.ts) under each SESSION_STORE:
 *   local: the folder is LocalAuth's Chromium profile, with HOME in `home/`.
 *   mysql: Chromium's profile is RemoteAuth's `RemoteAuth-<id>/` inside the folder; `home/`, the
 *          backup marker, and RemoteAuth's transient zip and staging folder sit next to it.
 * Switching SESSION_STORE moves a linked profile from one place to the other at the next start, so
 * a switch does not cost every instance a new QR.
 */

/** Which stored copy the local profile last matched (written after each save and restore). */
export const BACKUP_MARKER = 'session-backup.json';

/** What wa-fleet (not Chromium) keeps in an instance's folder: never part of a profile that moves. */
function isOurs(name: string, remoteDirName: string): boolean {
  return name === 'home' || name === remoteDirName || name === BACKUP_MARKER || name.endsWith('.zip') || name.startsWith('wwebjs_temp_session_');
}

/**
 * local → mysql: the folder holds a LocalAuth profile (it has `Default/`) and RemoteAuth's folder
 * does not exist yet: Chromium's files move into it. True when something moved.
 */
export function adoptLocalProfile(folder: string, remoteDir: string): boolean {
  if (existsSync(remoteDir) || !existsSync(join(folder, 'Default'))) return false;
  mkdirSync(remoteDir, { recursive: true, mode: 0o700 });
  const name = basename(remoteDir);
  for (const entry of readdirSync(folder)) if (!isOurs(entry, name)) renameSync(join(folder, entry), join(remoteDir, entry));
  return true;
}

/**
 * mysql → local: RemoteAuth's folder holds a profile and the instance's folder has none of its
 * own: the profile moves up, and what only RemoteAuth used goes. True when something moved.
 */
export function adoptRemoteProfile(folder: string, remoteDir: string): boolean {
  if (existsSync(join(folder, 'Default')) || !existsSync(join(remoteDir, 'Default'))) return false;
  const name = basename(remoteDir);
  for (const entry of readdirSync(remoteDir)) {
    if (!isOurs(entry, name) && !existsSync(join(folder, entry))) renameSync(join(remoteDir, entry), join(folder, entry));
  }
  rmSync(remoteDir, { recursive: true, force: true });
  rmSync(join(folder, BACKUP_MARKER), { force: true });
  return true;
}
