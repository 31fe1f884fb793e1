import type { RowDataPacket } from 'mysql2/promise';
import type { InstanceEvent, NewEvent } from '../domain/instance.js';
import type { Connection, Pool } from './pool.js';

/**
 * Appends one audit event inside the caller's transaction. The instance's row lock serialises
 * writers of one instance (a transition already holds it), so the next `seq` is taken once and
 * two appends never deadlock on the gap lock of MAX(seq).
 */
export async function insertEvent(conn: Connection, instanceId: string, event: NewEvent, at: Date, node: string | null = null): Promise<number> {
  await conn.query('SELECT id FROM instances WHERE id = ? FOR UPDATE', [instanceId]);
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM instance_events WHERE instance_id = ? FOR UPDATE',
    [instanceId],
  );
  const seq = Number(rows[0]?.next ?? 1);
  await conn.query(
    `INSERT INTO instance_events (instance_id, seq, occurred_at, category, type, from_status, to_status, reason, severity, data, node)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      instanceId,
      seq,
      at,
      event.category,
      event.type,
      event.fromStatus ?? null,
      event.toStatus ?? null,
      event.reason?.slice(0, 255) ?? null,
      event.severity ?? null,
      event.data ? JSON.stringify(event.data) : null,
      node,
    ],
  );
  return seq;
}

/** The latest events of an instance, newest first. */
export async function listEvents(pool: Pool, instanceId: string, limit = 50): Promise<InstanceEvent[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT seq, occurred_at, category, type, from_status, to_status, reason, severity, data
       FROM instance_events WHERE instance_id = ? ORDER BY seq DESC LIMIT ?`,
    [instanceId, limit],
  );
  return rows.map((r) => ({
    seq: Number(r.seq),
    occurredAt: r.occurred_at as Date,
    category: r.category as string,
    type: r.type as string,
    fromStatus: r.from_status ?? null,
    toStatus: r.to_status ?? null,
    reason: r.reason ?? null,
    severity: r.severity ?? null,
    data: typeof r.data === 'string' ? (JSON.parse(r.data) as Record<string, unknown>) : (r.data ?? null),
  }));
}
