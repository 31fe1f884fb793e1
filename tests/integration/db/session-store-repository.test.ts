import { randomBytes } from 'node:crypto';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionStoreRepository } from '../../../src/db/session-store-repository.js';
import { sha256Hex } from '../../../src/worker/session-transfer.js';
import { createTestDatabase, seedInstances, type TestDatabase } from '../../support/db.js';

/* sql/008_session_store.sql through src/db/session-store-repository.ts, on the real server. */

let db: TestDatabase;
let repo: SessionStoreRepository;
const MiB = 1024 * 1024;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  repo = new SessionStoreRepository(db.pool, 'node-a');
  await seedInstances(db.pool, ['s1', 's2', 's3']);
});
afterAll(async () => {
  await db?.drop();
});

const chunks = async (id: string) => {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT chunk_no, LENGTH(data) AS n FROM session_backup_chunks WHERE instance_id = ? ORDER BY chunk_no', [id]);
  return rows.map((r) => Number(r.n));
};

describe('session backups', () => {
  it('stores a backup in chunks of at most 1 MiB and reads back the same bytes, with what describes it', async () => {
    const data = randomBytes(2 * MiB + 5);
    const saved = await repo.save('s1', data, sha256Hex(data));
    expect(saved).toMatchObject({ size: data.length, sha256: sha256Hex(data), savedBy: 'node-a', saves: 1 });
    expect(Math.max(...(await chunks('s1')))).toBeLessThanOrEqual(MiB);
    const loaded = (await repo.load('s1'))!;
    expect(loaded.data.equals(data)).toBe(true);
    expect(loaded.meta).toMatchObject({ size: data.length, sha256: sha256Hex(data) });
  });

  it('replaces the previous backup whole: no chunk of the older, larger one survives', async () => {
    await repo.save('s2', randomBytes(3 * MiB), 'a'.repeat(64));
    const small = Buffer.from('small');
    const saved = await repo.save('s2', small, sha256Hex(small));
    expect(saved.saves).toBe(2);
    expect(await chunks('s2')).toEqual([5]);
    expect((await repo.load('s2'))!.data.toString()).toBe('small');
  });

  it('deletes a backup with its chunks, and the instance\'s deletion cascades to them', async () => {
    const data = Buffer.from('x');
    await repo.save('s2', data, sha256Hex(data));
    expect(await repo.delete('s2')).toBe(true);
    expect(await repo.delete('s2')).toBe(false);
    expect(await repo.load('s2')).toBeNull();
    expect(await chunks('s2')).toEqual([]);
    await repo.save('s3', data, sha256Hex(data));
    await db.pool.query("DELETE FROM instances WHERE id = 's3'");
    expect(await repo.meta('s3')).toBeNull();
    expect(await chunks('s3')).toEqual([]);
  });

  it('refuses a backup of an instance that does not exist', async () => {
    await expect(repo.save('nobody', Buffer.from('x'), sha256Hex(Buffer.from('x')))).rejects.toThrow(/foreign key/i);
  });
});
