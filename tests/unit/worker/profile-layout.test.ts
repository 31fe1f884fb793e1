import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adoptLocalProfile, adoptRemoteProfile, BACKUP_MARKER } from '../../../src/worker/profile-layout.js';

function folderWith(entries: string[]): string {
  const folder = join(mkdtempSync(join(tmpdir(), 'layout-')), 'session-a');
  for (const entry of entries) {
    const path = join(folder, entry);
    if (entry.endsWith('/')) mkdirSync(path, { recursive: true });
    else {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, entry);
    }
  }
  return folder;
}

describe('profile layout when SESSION_STORE changes', () => {
  it('local → mysql: moves the LocalAuth profile into RemoteAuth\'s folder, leaving HOME and wa-fleet\'s files where they are', () => {
    const folder = folderWith(['Default/IndexedDB/x', 'Local State', 'home/.config/', BACKUP_MARKER]);
    const remote = join(folder, 'RemoteAuth-a');
    expect(adoptLocalProfile(folder, remote)).toBe(true);
    expect(readdirSync(folder).sort()).toEqual(['RemoteAuth-a', BACKUP_MARKER, 'home'].sort());
    expect(readdirSync(remote).sort()).toEqual(['Default', 'Local State']);
    expect(existsSync(join(remote, 'Default', 'IndexedDB', 'x'))).toBe(true);
  });

  it('local → mysql does nothing when RemoteAuth\'s folder exists or there is no LocalAuth profile', () => {
    const both = folderWith(['Default/', 'RemoteAuth-a/Default/']);
    expect(adoptLocalProfile(both, join(both, 'RemoteAuth-a'))).toBe(false);
    expect(existsSync(join(both, 'Default'))).toBe(true);
    const empty = folderWith(['home/']);
    expect(adoptLocalProfile(empty, join(empty, 'RemoteAuth-a'))).toBe(false);
    expect(existsSync(join(empty, 'RemoteAuth-a'))).toBe(false);
  });

  it('mysql → local: moves RemoteAuth\'s profile up and drops what only RemoteAuth used', () => {
    const folder = folderWith(['RemoteAuth-a/Default/IndexedDB/x', 'RemoteAuth-a/Local State', 'home/', BACKUP_MARKER]);
    expect(adoptRemoteProfile(folder, join(folder, 'RemoteAuth-a'))).toBe(true);
    expect(readdirSync(folder).sort()).toEqual(['Default', 'Local State', 'home']);
    expect(existsSync(join(folder, 'Default', 'IndexedDB', 'x'))).toBe(true);
  });

  it('mysql → local never replaces a LocalAuth profile that is already there', () => {
    const folder = folderWith(['Default/mine', 'RemoteAuth-a/Default/theirs']);
    expect(adoptRemoteProfile(folder, join(folder, 'RemoteAuth-a'))).toBe(false);
    expect(existsSync(join(folder, 'Default', 'mine'))).toBe(true);
    expect(existsSync(join(folder, 'RemoteAuth-a', 'Default', 'theirs'))).toBe(true);
  });
});
