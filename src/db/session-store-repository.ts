import { hostname } from 'node:os';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { deleteBlob, readBlob, writeBlob, type ChunkTable } from './blob-chunks.js';
import { inTransaction, type Connection, type Pool } from './pool.js';

/*
 * Every query about session_backups and session_backup_chunks (sql/008_session_store.sql): the
 * stored copy of each instance's session with SESSION_STORE=mysql. Only the supervisor calls it
 * (src/worker/session-store-host.ts); workers have no database access.
 */

const CHUNKS: ChunkTable = { table: 'session_backup_chunks', keyColumn: 'instance_id' };

export interface StoredBackupMeta {
  size: number;
  sha256: string;
  savedAt: Date;
  savedBy: string;
  /** Backups stored for the instance so far (each replaced the previous one). */
  saves: number;
}

function metaOf(row: RowDataPacket): StoredBackupMeta {
  return {
    size: Number(row.size),
    sha256: row.sha256 as string,
    savedAt: row.saved_at as Date,
    savedBy: row.saved_by as string,
    saves: Number(row.saves),
  };
}

export class SessionStoreRepository {
  /**
   * `fence`, with CLUSTER=on: run first in a backup's transaction, it refuses (LEASE_LOST) a backup
   * from a node that no longer holds the instance's lease, so a late worker cannot overwrite the
   * copy the new owner restored from.
   */
  constructor(
    private readonly pool: Pool,
    private readonly node: string = hostname(),
    private readonly fence?: (conn: Connection, instanceId: string) => Promise<void>,
  ) {}

  async meta(instanceId: string): Promise<StoredBackupMeta | null> {
    const [rows] = await this.pool.query<RowDataPacket[]>('SELECT size, sha256, saved_at, saved_by, saves FROM session_backups WHERE instance_id = ?', [instanceId]);
    return rows[0] ? metaOf(rows[0]) : null;
  }

  /** Replaces the instance's backup with `data`, row and chunks in one transaction. Fails when the instance does not exist. */
  save(instanceId: string, data: Buffer, sha256: string): Promise<StoredBackupMeta> {
    return inTransaction(this.pool, async (conn) => {
      await conn.query(
        `INSERT INTO session_backups (instance_id, size, sha256, saved_at, saved_by, saves) VALUES (?, ?, ?, CURRENT_TIMESTAMP(3), ?, 1)
         ON DUPLICATE KEY UPDATE size = VALUES(size), sha256 = VALUES(sha256), saved_at = VALUES(saved_at), saved_by = VALUES(saved_by), saves = saves + 1`,
        [instanceId, data.length, sha256, this.node],
      );
      await writeBlob(conn, CHUNKS, instanceId, data);
      // Last, just before the commit: the instance's row is locked only for the check, not while
      // megabytes are written (its node's lease renewal waits on that lock).
      await this.fence?.(conn, instanceId);
      const [rows] = await conn.query<RowDataPacket[]>('SELECT size, sha256, saved_at, saved_by, saves FROM session_backups WHERE instance_id = ?', [instanceId]);
      return metaOf(rows[0]!);
    });
  }

  /** The stored backup and what describes it, read in one transaction (never a row of one backup with the chunks of another). */
  load(instanceId: string): Promise<{ meta: StoredBackupMeta; data: Buffer } | null> {
    return inTransaction(this.pool, async (conn) => {
      const [rows] = await conn.query<RowDataPacket[]>('SELECT size, sha256, saved_at, saved_by, saves FROM session_backups WHERE instance_id = ? LOCK IN SHARE MODE', [instanceId]);
      if (!rows[0]) return null;
      const data = await readBlob(conn, CHUNKS, instanceId);
      return { meta: metaOf(rows[0]), data: data ?? Buffer.alloc(0) };
    });
  }

  /** Deletes the instance's backup; true when there was one. */
  delete(instanceId: string): Promise<boolean> {
    return inTransaction(this.pool, async (conn) => {
      await deleteBlob(conn, CHUNKS, instanceId);
      const [result] = await conn.query<ResultSetHeader>('DELETE FROM session_backups WHERE instance_id = ?', [instanceId]);
      return result.affectedRows > 0;
    });
  }
}
