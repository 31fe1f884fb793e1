import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkerEvent, WorkerRequest } from '../../../src/worker/protocol.js';
import { SessionStoreHost, type BackupRepository } from '../../../src/worker/session-store-host.js';
import { IpcSessionStore } from '../../../src/worker/session-store.js';
import { PART_BYTES, sha256Hex } from '../../../src/worker/session-transfer.js';
import { silentLogger } from '../../support/logger.js';

/** The repository in memory, with a hook to run something in the middle of a save. */
class MemoryRepo implements BackupRepository {
  readonly rows = new Map<string, { data: Buffer; sha256: string; savedAt: Date; saves: number }>();
  beforeSave: (() => Promise<void>) | null = null;

  async meta(id: string) {
    const r = this.rows.get(id);
    return r ? { size: r.data.length, sha256: r.sha256, savedAt: r.savedAt } : null;
  }
  async save(id: string, data: Buffer, sha256: string) {
    await this.beforeSave?.();
    const saves = (this.rows.get(id)?.saves ?? 0) + 1;
    this.rows.set(id, { data, sha256, savedAt: new Date(), saves });
    return { size: data.length, sha256, savedAt: new Date(), saves };
  }
  async load(id: string) {
    const r = this.rows.get(id);
    return r ? { meta: { size: r.data.length, sha256: r.sha256, savedAt: r.savedAt }, data: r.data } : null;
  }
  async delete(id: string) {
    return this.rows.delete(id);
  }
}

/** A worker's store talking straight to the host's handlers, as the channel would carry it (JSON). */
function wired(repo: MemoryRepo, instanceId: string) {
  const host = new SessionStoreHost({ repo, log: silentLogger });
  const binding = host.bind(instanceId);
  const handlers = new Map(binding.handlers());
  const asked: string[] = [];
  const dataPath = mkdtempSync(join(tmpdir(), 'store-'));
  const store = new IpcSessionStore(dataPath, async (type, payload) => {
    asked.push(type);
    return JSON.parse(JSON.stringify(await handlers.get(type)!(JSON.parse(JSON.stringify(payload)))));
  });
  return { host, binding, handlers, store, dataPath, asked };
}

const zipOf = (dataPath: string, session: string, data: Buffer) => writeFileSync(join(dataPath, `${session}.zip`), data);

describe('session store: the worker proxy and the supervisor host', () => {
  it('saves the zip RemoteAuth left in dataPath and extracts it to a path whose folder does not exist yet, across parts', async () => {
    const repo = new MemoryRepo();
    const { store, dataPath, asked } = wired(repo, 'a');
    const data = randomBytes(2 * PART_BYTES + 77);
    zipOf(dataPath, 'RemoteAuth-a', data);
    await store.save({ session: 'RemoteAuth-a' });
    expect(asked.filter((t) => t === WorkerRequest.SESSION_SAVE)).toHaveLength(3);
    expect(repo.rows.get('a')!.data.equals(data)).toBe(true);
    expect(store.takeSaved()).toMatchObject({ size: data.length, sha256: sha256Hex(data) });
    expect(await store.sessionExists({ session: 'RemoteAuth-a' })).toBe(true);

    const target = join(dataPath, 'not', 'yet', 'RemoteAuth-a.zip');
    await store.extract({ session: 'RemoteAuth-a', path: target });
    expect(readFileSync(target).equals(data)).toBe(true);
    expect(store.takeExtracted()).toMatchObject({ size: data.length, sha256: sha256Hex(data) });

    await store.delete({ session: 'RemoteAuth-a' });
    expect(repo.rows.has('a')).toBe(false);
    expect(await store.sessionExists({ session: 'RemoteAuth-a' })).toBe(false);
  });

  it("refuses every request naming a session other than its own instance's", async () => {
    const repo = new MemoryRepo();
    repo.rows.set('b', { data: Buffer.from('victim'), sha256: sha256Hex(Buffer.from('victim')), savedAt: new Date(), saves: 1 });
    const { handlers } = wired(repo, 'a');
    const one = Buffer.from([1]);
    const payloads: Record<string, object> = {
      [WorkerRequest.SESSION_EXISTS]: {},
      [WorkerRequest.SESSION_EXTRACT]: { part: 0 },
      [WorkerRequest.SESSION_SAVE]: { part: 0, size: 1, sha256: sha256Hex(one), data: one.toString('base64') },
      [WorkerRequest.SESSION_DELETE]: {},
    };
    for (const session of ['RemoteAuth-b', 'RemoteAuth-A', 'RemoteAuth-a/../RemoteAuth-b', 'RemoteAuth', 'session-a']) {
      for (const [type, extra] of Object.entries(payloads)) {
        await expect(handlers.get(type as WorkerRequest)!({ session, ...extra }), `${type} ${session}`).rejects.toMatchObject({ code: 'SESSION_FORBIDDEN' });
      }
    }
    expect(repo.rows.get('b')!.data.toString()).toBe('victim');
  });

  it('does not write a backup whose transfer began before the stored copy was deleted (a logout racing a backup)', async () => {
    const repo = new MemoryRepo();
    const { host, handlers } = wired(repo, 'a');
    const data = randomBytes(PART_BYTES + 1);
    const sha256 = sha256Hex(data);
    const part = (i: number) => ({ session: 'RemoteAuth-a', part: i, size: data.length, sha256, data: data.subarray(i * PART_BYTES, (i + 1) * PART_BYTES).toString('base64') });
    const save = handlers.get(WorkerRequest.SESSION_SAVE)!;
    await save(part(0));
    await host.forget('a');
    await expect(save(part(1))).rejects.toMatchObject({ code: 'SESSION_DELETED' });
    expect(repo.rows.has('a')).toBe(false);
    // A backup that begins after the delete (a new link) is written.
    await save(part(0));
    await expect(save(part(1))).resolves.toMatchObject({ stored: true });
    expect(repo.rows.has('a')).toBe(true);
  });

  it('refuses a save whose parts do not add up: a later part first, another backup\'s part, a wrong SHA-256', async () => {
    const repo = new MemoryRepo();
    const { handlers } = wired(repo, 'a');
    const save = handlers.get(WorkerRequest.SESSION_SAVE)!;
    const data = randomBytes(PART_BYTES + 1);
    const sha256 = sha256Hex(data);
    const part = (i: number, over: object = {}) => ({ session: 'RemoteAuth-a', part: i, size: data.length, sha256, data: data.subarray(i * PART_BYTES, (i + 1) * PART_BYTES).toString('base64'), ...over });
    await expect(save(part(1))).rejects.toMatchObject({ code: 'SESSION_TRANSFER_FAILED' });
    await save(part(0));
    await expect(save(part(1, { size: data.length + 1 }))).rejects.toMatchObject({ code: 'SESSION_TRANSFER_FAILED' });
    await save(part(0, { sha256: 'f'.repeat(64) }));
    await expect(save(part(1, { sha256: 'f'.repeat(64) }))).rejects.toMatchObject({ code: 'SESSION_TRANSFER_FAILED', message: expect.stringMatching(/SHA-256/) });
    expect(repo.rows.has('a')).toBe(false);
  });

  it('refuses to restore a stored copy that no longer matches its own SHA-256', async () => {
    const repo = new MemoryRepo();
    repo.rows.set('a', { data: Buffer.from('damaged'), sha256: sha256Hex(Buffer.from('original')), savedAt: new Date(), saves: 1 });
    const { store, dataPath } = wired(repo, 'a');
    await expect(store.extract({ session: 'RemoteAuth-a', path: join(dataPath, 'x.zip') })).rejects.toMatchObject({ code: 'SESSION_TRANSFER_FAILED' });
  });

  it('sends no backup while saves are off (the session is being stopped or unlinked)', async () => {
    const repo = new MemoryRepo();
    const { store, dataPath, asked } = wired(repo, 'a');
    zipOf(dataPath, 'RemoteAuth-a', Buffer.from('zip'));
    store.savesEnabled = false;
    await expect(store.save({ session: 'RemoteAuth-a' })).rejects.toMatchObject({ code: 'SESSION_DELETED' });
    expect(asked).toEqual([]);
  });

  it('deletes the stored copy when the worker reports an unlinked session (LOGOUT, UNPAIRED), never after a CONFLICT', async () => {
    for (const [reason, kept] of [['CONFLICT', true], ['TIMEOUT', true], ['LOGOUT', false], ['UNPAIRED', false]] as const) {
      const repo = new MemoryRepo();
      repo.rows.set('a', { data: Buffer.from('s'), sha256: sha256Hex(Buffer.from('s')), savedAt: new Date(), saves: 1 });
      const { binding } = wired(repo, 'a');
      binding.observe(WorkerEvent.DISCONNECTED, { reason });
      await new Promise((r) => setTimeout(r, 10));
      expect({ reason, kept: repo.rows.has('a') }).toEqual({ reason, kept });
    }
  });
});
