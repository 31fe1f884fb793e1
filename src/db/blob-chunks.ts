import type { RowDataPacket } from 'mysql2/promise';
import type { Connection, Pool } from './pool.js';

/*
 * A blob stored as ordered chunks, one row each, in a table of the shape
 *   (<key column>, chunk_no INT UNSIGNED, data MEDIUMBLOB, PRIMARY KEY (<key column>, chunk_no)).
 * A single 16 MiB value would need a 16 MiB packet each way, and max_allowed_packet is often
 * smaller on a user's server (4 MiB on MySQL 5.7, 1 MiB on older ones); a chunk never is. Chunks
 * are written with prepared statements, whose binary protocol sends a Buffer as is (the text
 * protocol would send it as hex, twice its size).
 */

/** Where a kind of blob lives. Identifiers come from code, never from a request. */
export interface ChunkTable {
  table: string;
  keyColumn: string;
}

export const MAX_CHUNK_BYTES = 1024 * 1024;

/** Room a packet needs besides the chunk itself (statement, key, chunk number, headers). */
const PACKET_OVERHEAD = 16 * 1024;

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

function names(t: ChunkTable): { table: string; key: string } {
  if (!IDENTIFIER.test(t.table) || !IDENTIFIER.test(t.keyColumn)) throw new Error(`not a table or column name: ${t.table}.${t.keyColumn}`);
  return { table: `\`${t.table}\``, key: `\`${t.keyColumn}\`` };
}

/** The chunk size for a server whose max_allowed_packet is `maxAllowedPacket`: 1 MiB, or less when that would not fit. */
export function chunkSizeFor(maxAllowedPacket: number): number {
  return Math.max(1024, Math.min(MAX_CHUNK_BYTES, maxAllowedPacket - PACKET_OVERHEAD));
}

/**
 * Stores `data` under `key`, replacing what was there, in the caller's transaction. An empty blob
 * is one empty chunk, so it reads back as an empty Buffer, not as "none".
 */
export async function writeBlob(conn: Connection, t: ChunkTable, key: string | number, data: Buffer): Promise<void> {
  const { table, key: keyColumn } = names(t);
  const [packet] = await conn.query<RowDataPacket[]>('SELECT @@max_allowed_packet AS max');
  const size = chunkSizeFor(Number(packet[0]!.max));
  await conn.query(`DELETE FROM ${table} WHERE ${keyColumn} = ?`, [key]);
  const count = Math.max(1, Math.ceil(data.length / size));
  for (let no = 0; no < count; no++) {
    await conn.execute(`INSERT INTO ${table} (${keyColumn}, chunk_no, data) VALUES (?, ?, ?)`, [key, no, data.subarray(no * size, (no + 1) * size)]);
  }
}

/** The blob stored under `key`, or null when there is none. Each chunk arrives as a row of its own. */
export async function readBlob(db: Pool | Connection, t: ChunkTable, key: string | number): Promise<Buffer | null> {
  const { table, key: keyColumn } = names(t);
  const [rows] = await db.query<RowDataPacket[]>(`SELECT data FROM ${table} WHERE ${keyColumn} = ? ORDER BY chunk_no`, [key]);
  return rows.length === 0 ? null : Buffer.concat(rows.map((r) => r.data as Buffer));
}

/** Removes the blob stored under `key` (nothing when there is none). */
export async function deleteBlob(db: Pool | Connection, t: ChunkTable, key: string | number): Promise<void> {
  const { table, key: keyColumn } = names(t);
  await db.query(`DELETE FROM ${table} WHERE ${keyColumn} = ?`, [key]);
}
