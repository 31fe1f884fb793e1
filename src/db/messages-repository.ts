import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { InstanceNotFoundError } from '../errors/index.js';
import { canMove, WAITING_STATES, type OutboundState } from '../messages/outbound-state.js';
import { deleteBlob, readBlob, writeBlob, type ChunkTable } from './blob-chunks.js';
import type { Connection, Pool } from './pool.js';

/*
 * Every query about outbound_messages, outbound_media and inbound_messages (sql/007_messages.sql).
 * Writes that belong with other changes (a message accepted with its event, a state move with its
 * webhook) take the caller's transaction; state moves are conditional on the state the caller
 * believes the row is in, so two parts racing over one message cannot both win.
 */

export interface NewOutbound {
  id: string;
  instanceId: string;
  idempotencyKey: string | null;
  requestHash: string;
  chatId: string;
  kind: 'text' | 'media';
  body: string | null;
  replyTo: string | null;
  media: { mimetype: string; filename: string | null; data: Buffer; sha256: string } | null;
  waId: string;
  /** The serialized id it will have (serializedOutgoingId), when known before the send: receipts and lookups find it by this. */
  waMessageId?: string | null;
  expiresAt: Date;
}

export interface OutboundRow {
  seq: number;
  id: string;
  instanceId: string;
  idempotencyKey: string | null;
  requestHash: string;
  chatId: string;
  kind: 'text' | 'media';
  body: string | null;
  replyTo: string | null;
  media: { mimetype: string; filename: string | null; size: number; sha256: string } | null;
  state: OutboundState;
  reason: string | null;
  attempts: number;
  lookups: number;
  waId: string;
  waMessageId: string | null;
  createdAt: Date;
  updatedAt: Date;
  sendingAt: Date | null;
  sentAt: Date | null;
  deliveredAt: Date | null;
  readAt: Date | null;
  expiresAt: Date;
}

export interface OutboundMove {
  from: readonly OutboundState[];
  to: OutboundState;
  /** Omitted: the reason is left as it is; null clears it. */
  reason?: string | null;
  /** Omitted: left as it is. */
  waMessageId?: string | null;
  countAttempt?: boolean;
  countLookup?: boolean;
}

export interface InboundRow {
  instanceId: string;
  waMessageId: string;
  chatId: string;
  from: string;
  to: string;
  fromMe: boolean;
  type: string;
  body: string | null;
  waTimestamp: number | null;
  hasMedia: boolean;
  quotedId: string | null;
  receivedAt: Date;
}

const MEDIA: ChunkTable = { table: 'outbound_media', keyColumn: 'message_seq' };

/** The timestamp column a move to each state sets, if any. */
const STAMP: Partial<Record<OutboundState, string>> = { sending: 'sending_at', sent: 'sent_at', delivered: 'delivered_at', read: 'read_at' };

const WAITING_SQL = `state IN (${WAITING_STATES.map((s) => `'${s}'`).join(', ')})`;

function isDuplicate(err: unknown): boolean {
  return (err as { code?: string }).code === 'ER_DUP_ENTRY';
}

/** The instance the row names is gone (removed while the message was on its way in). */
function isMissingInstance(err: unknown): boolean {
  return (err as { code?: string }).code === 'ER_NO_REFERENCED_ROW_2';
}

function toOutbound(r: RowDataPacket): OutboundRow {
  return {
    seq: Number(r.seq),
    id: r.id,
    instanceId: r.instance_id,
    idempotencyKey: r.idempotency_key,
    requestHash: r.request_hash,
    chatId: r.chat_id,
    kind: r.kind,
    body: r.body,
    replyTo: r.reply_to,
    media: r.media_mimetype === null ? null : { mimetype: r.media_mimetype, filename: r.media_filename, size: Number(r.media_size), sha256: r.media_sha256 },
    state: r.state,
    reason: r.reason,
    attempts: Number(r.attempts),
    lookups: Number(r.lookups),
    waId: r.wa_id,
    waMessageId: r.wa_message_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    sendingAt: r.sending_at,
    sentAt: r.sent_at,
    deliveredAt: r.delivered_at,
    readAt: r.read_at,
    expiresAt: r.expires_at,
  };
}

function toInbound(r: RowDataPacket): InboundRow {
  return {
    instanceId: r.instance_id,
    waMessageId: r.wa_message_id,
    chatId: r.chat_id,
    from: r.from_id,
    to: r.to_id,
    fromMe: r.from_me === 1,
    type: r.type,
    body: r.body,
    waTimestamp: r.wa_timestamp === null ? null : Number(r.wa_timestamp),
    hasMedia: r.has_media === 1,
    quotedId: r.quoted_id,
    receivedAt: r.received_at,
  };
}

async function oneOutbound(db: Pool | Connection, where: string, values: unknown[]): Promise<OutboundRow | null> {
  const [rows] = await db.query<RowDataPacket[]>(`SELECT * FROM outbound_messages WHERE ${where} LIMIT 1`, values);
  return rows[0] ? toOutbound(rows[0]) : null;
}

export const outboundMessages = {
  /** Inserts row + media chunks in the caller's transaction. 'inserted', or the existing row when (instance, idempotency key) exists already. */
  async insert(conn: Connection, m: NewOutbound, at: Date): Promise<'inserted' | OutboundRow> {
    let seq: number;
    try {
      const [res] = await conn.query<ResultSetHeader>(
        `INSERT INTO outbound_messages (id, instance_id, idempotency_key, request_hash, chat_id, kind, body, reply_to,
           media_mimetype, media_filename, media_size, media_sha256, state, wa_id, wa_message_id, created_at, updated_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?)`,
        [
          m.id,
          m.instanceId,
          m.idempotencyKey,
          m.requestHash,
          m.chatId,
          m.kind,
          m.body,
          m.replyTo,
          m.media?.mimetype ?? null,
          m.media?.filename ?? null,
          m.media?.data.length ?? null,
          m.media?.sha256 ?? null,
          m.waId,
          m.waMessageId ?? null,
          at,
          at,
          m.expiresAt,
        ],
      );
      seq = res.insertId;
    } catch (err) {
      // A duplicate key only ends the statement, not the transaction. The competing insert has
      // committed by now (ours waited for its lock), so the first row is visible to read.
      if (isDuplicate(err) && m.idempotencyKey !== null) {
        const existing = await oneOutbound(conn, 'instance_id = ? AND idempotency_key = ?', [m.instanceId, m.idempotencyKey]);
        if (existing) return existing;
      }
      if (isMissingInstance(err)) throw new InstanceNotFoundError(m.instanceId);
      throw err;
    }
    if (m.media) await writeBlob(conn, MEDIA, seq, m.media.data);
    return 'inserted';
  },

  byId(db: Pool | Connection, instanceId: string, id: string): Promise<OutboundRow | null> {
    return oneOutbound(db, 'id = ? AND instance_id = ?', [id, instanceId]);
  },

  byWaMessageId(db: Pool | Connection, instanceId: string, waMessageId: string): Promise<OutboundRow | null> {
    return oneOutbound(db, 'instance_id = ? AND wa_message_id = ?', [instanceId, waMessageId]);
  },

  /** Newest first; `before` is a seq cursor; optional state filter. */
  async list(db: Pool | Connection, instanceId: string, opts: { limit: number; before?: number; state?: OutboundState }): Promise<OutboundRow[]> {
    const where = ['instance_id = ?'];
    const values: unknown[] = [instanceId];
    if (opts.before !== undefined) {
      where.push('seq < ?');
      values.push(opts.before);
    }
    if (opts.state !== undefined) {
      where.push('state = ?');
      values.push(opts.state);
    }
    const [rows] = await db.query<RowDataPacket[]>(`SELECT * FROM outbound_messages WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`, [...values, opts.limit]);
    return rows.map(toOutbound);
  },

  /** queued + sending of one instance. */
  async countWaiting(db: Pool | Connection, instanceId: string): Promise<number> {
    const [rows] = await db.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM outbound_messages WHERE instance_id = ? AND ${WAITING_SQL}`, [instanceId]);
    return Number(rows[0]!.n);
  },

  /** The oldest waiting (queued or sending) message of the instance, or null. */
  head(db: Pool | Connection, instanceId: string): Promise<OutboundRow | null> {
    return oneOutbound(db, `instance_id = ? AND ${WAITING_SQL} ORDER BY seq`, [instanceId]);
  },

  /** Instance ids that have waiting messages. */
  async instancesWithWaiting(db: Pool | Connection): Promise<string[]> {
    // One index probe per instance (outbound_messages_queue), however many finished messages the table holds.
    const [rows] = await db.query<RowDataPacket[]>(
      `SELECT i.id FROM instances i WHERE EXISTS (SELECT 1 FROM outbound_messages m WHERE m.instance_id = i.id AND m.${WAITING_SQL}) ORDER BY i.id`,
    );
    return rows.map((r) => r.id as string);
  },

  /**
   * Conditional move: only from one of `from`; sets the matching *_at column (sending_at/sent_at/delivered_at/read_at) to `at`,
   * reason, wa_message_id when given, attempts+1/lookups+1 when asked. True when it moved. A `from` state that may not move to
   * `to` (src/messages/outbound-state.ts) is a bug in the caller, and throws.
   */
  async move(conn: Pool | Connection, id: string, move: OutboundMove, at: Date): Promise<boolean> {
    const illegal = move.from.filter((from) => !canMove(from, move.to));
    if (move.from.length === 0 || illegal.length > 0) throw new Error(`an outbound message may not move from ${illegal.join(', ') || 'nowhere'} to ${move.to}`);
    const sets = ['state = ?', 'updated_at = ?'];
    const values: unknown[] = [move.to, at];
    const stamp = STAMP[move.to];
    if (stamp) {
      sets.push(`${stamp} = ?`);
      values.push(at);
    }
    if (move.reason !== undefined) {
      sets.push('reason = ?');
      values.push(move.reason?.slice(0, 255) ?? null);
    }
    if (move.waMessageId !== undefined) {
      sets.push('wa_message_id = ?');
      values.push(move.waMessageId);
    }
    if (move.countAttempt) sets.push('attempts = attempts + 1');
    if (move.countLookup) sets.push('lookups = lookups + 1');
    const [res] = await conn.query<ResultSetHeader>(`UPDATE outbound_messages SET ${sets.join(', ')} WHERE id = ? AND state IN (?)`, [...values, id, move.from]);
    return res.affectedRows === 1;
  },

  /**
   * Every waiting message of the instance to `to` with `reason` (queued → failed; sending → unknown, since it may have been sent):
   * used when the instance is logged out or banned. Returns the moved rows (id, state before, state after), in queue order.
   */
  async abandonWaiting(conn: Connection, instanceId: string, reason: string, at: Date): Promise<Array<{ id: string; chatId: string; from: OutboundState; to: OutboundState }>> {
    // Locked first, then moved by id: a message accepted meanwhile is not moved without being reported.
    const [rows] = await conn.query<RowDataPacket[]>(`SELECT id, chat_id, state FROM outbound_messages WHERE instance_id = ? AND ${WAITING_SQL} ORDER BY seq FOR UPDATE`, [instanceId]);
    const moved = rows.map((r) => {
      const from = r.state as OutboundState;
      return { id: r.id as string, chatId: r.chat_id as string, from, to: (from === 'queued' ? 'failed' : 'unknown') as OutboundState };
    });
    for (const from of WAITING_STATES) {
      const ids = moved.filter((m) => m.from === from).map((m) => m.id);
      if (ids.length === 0) continue;
      await conn.query('UPDATE outbound_messages SET state = ?, reason = ?, updated_at = ? WHERE id IN (?) AND state = ?', [
        from === 'queued' ? 'failed' : 'unknown',
        reason.slice(0, 255),
        at,
        ids,
        from,
      ]);
    }
    return moved;
  },

  mediaOf(db: Pool | Connection, seq: number): Promise<Buffer | null> {
    return readBlob(db, MEDIA, seq);
  },

  /** Drops the media chunks of a message that no longer needs them (sent or finished). */
  dropMedia(conn: Pool | Connection, seq: number): Promise<void> {
    return deleteBlob(conn, MEDIA, seq);
  },

  /** For metrics and the dashboard: counts per instance and state. */
  async countsByState(db: Pool | Connection): Promise<Array<{ instanceId: string; state: OutboundState; count: number }>> {
    const [rows] = await db.query<RowDataPacket[]>('SELECT instance_id, state, COUNT(*) AS n FROM outbound_messages GROUP BY instance_id, state ORDER BY instance_id, state');
    return rows.map((r) => ({ instanceId: r.instance_id as string, state: r.state as OutboundState, count: Number(r.n) }));
  },
};

export const inboundMessages = {
  /** False when (instance, wa message id) was recorded already (a duplicate delivery). */
  async insert(conn: Connection, row: InboundRow): Promise<boolean> {
    try {
      await conn.query(
        `INSERT INTO inbound_messages (instance_id, wa_message_id, chat_id, from_id, to_id, from_me, type, body, wa_timestamp, has_media, quoted_id, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          row.instanceId,
          row.waMessageId,
          row.chatId,
          row.from,
          row.to,
          row.fromMe ? 1 : 0,
          row.type,
          row.body,
          row.waTimestamp,
          row.hasMedia ? 1 : 0,
          row.quotedId,
          row.receivedAt,
        ],
      );
      return true;
    } catch (err) {
      if (isDuplicate(err)) return false;
      if (isMissingInstance(err)) throw new InstanceNotFoundError(row.instanceId);
      throw err;
    }
  },

  async byWaMessageId(db: Pool | Connection, instanceId: string, waMessageId: string): Promise<InboundRow | null> {
    const [rows] = await db.query<RowDataPacket[]>('SELECT * FROM inbound_messages WHERE instance_id = ? AND wa_message_id = ?', [instanceId, waMessageId]);
    return rows[0] ? toInbound(rows[0]) : null;
  },

  async list(db: Pool | Connection, instanceId: string, opts: { limit: number; before?: number }): Promise<Array<InboundRow & { seq: number }>> {
    const cursor = opts.before === undefined ? '' : ' AND seq < ?';
    const values: unknown[] = opts.before === undefined ? [instanceId, opts.limit] : [instanceId, opts.before, opts.limit];
    const [rows] = await db.query<RowDataPacket[]>(`SELECT * FROM inbound_messages WHERE instance_id = ?${cursor} ORDER BY seq DESC LIMIT ?`, values);
    return rows.map((r) => ({ seq: Number(r.seq), ...toInbound(r) }));
  },
};
