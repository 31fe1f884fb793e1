import { createHash, randomBytes } from 'node:crypto';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { InstanceNotFoundError } from '../errors/index.js';
import type { Connection, Pool } from './pool.js';

/*
 * The `api_keys` table: per-instance API keys, kept as the SHA-256 of the key. Reads and the
 * last-used touch take the pool; creating and revoking take the connection of a journal
 * transaction (each is recorded with an instance event).
 */

/** What identifies a scoped key: `wfk_` and 32 random bytes, base64url. */
export const SCOPED_KEY_PREFIX = 'wfk_';

export interface ApiKeyInfo {
  keyId: string;
  instanceId: string;
  label: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** SHA-256 hex of a key: what is stored and looked up (a key has 256 random bits: no salt, no slow hash). */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A fresh key and its id; the key is shown once and only its hash is kept. */
export function newApiKey(): { keyId: string; key: string; hash: string } {
  const key = SCOPED_KEY_PREFIX + randomBytes(32).toString('base64url');
  return { keyId: `key_${randomBytes(8).toString('hex')}`, key, hash: hashKey(key) };
}

function toInfo(r: RowDataPacket): ApiKeyInfo {
  return {
    keyId: r.id as string,
    instanceId: r.instance_id as string,
    label: (r.label as string | null) ?? null,
    createdAt: r.created_at as Date,
    lastUsedAt: (r.last_used_at as Date | null) ?? null,
  };
}

const COLUMNS = 'id, instance_id, label, created_at, last_used_at';

export const apiKeys = {
  /** The key with this hash (the unique index on key_hash), or null. */
  async findByHash(pool: Pool, hash: string): Promise<ApiKeyInfo | null> {
    const [rows] = await pool.query<RowDataPacket[]>(`SELECT ${COLUMNS} FROM api_keys WHERE key_hash = ?`, [hash]);
    return rows[0] ? toInfo(rows[0]) : null;
  },

  async list(pool: Pool, instanceId: string): Promise<ApiKeyInfo[]> {
    const [rows] = await pool.query<RowDataPacket[]>(`SELECT ${COLUMNS} FROM api_keys WHERE instance_id = ? ORDER BY created_at, id`, [instanceId]);
    return rows.map(toInfo);
  },

  /** When a key was last used, to within the verification cache's lifetime: a usage mark, not a change of the instance (no event). */
  async touch(pool: Pool, keyId: string, at: Date): Promise<void> {
    await pool.query('UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)', [at, keyId, at]);
  },

  async insert(conn: Connection, instanceId: string, key: { keyId: string; hash: string; label: string | null }, at: Date): Promise<void> {
    try {
      await conn.query('INSERT INTO api_keys (id, instance_id, key_hash, label, created_at) VALUES (?, ?, ?, ?, ?)', [key.keyId, instanceId, key.hash, key.label, at]);
    } catch (err) {
      if ((err as { code?: string }).code === 'ER_NO_REFERENCED_ROW_2') throw new InstanceNotFoundError(instanceId);
      throw err;
    }
  },

  /** False when the instance has no such key. */
  async remove(conn: Connection, instanceId: string, keyId: string): Promise<boolean> {
    const [res] = await conn.query<ResultSetHeader>('DELETE FROM api_keys WHERE id = ? AND instance_id = ?', [keyId, instanceId]);
    return res.affectedRows === 1;
  },

  async removeAllOf(conn: Connection, instanceId: string): Promise<number> {
    const [res] = await conn.query<ResultSetHeader>('DELETE FROM api_keys WHERE instance_id = ?', [instanceId]);
    return res.affectedRows;
  },
};
