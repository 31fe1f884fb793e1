import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { ConnectionStatus, Health, Instance } from '../domain/instance.js';
import { InstanceExistsError, InstanceNotFoundError } from '../errors/index.js';
import type { Connection, Pool } from './pool.js';

/*
 * The `instances` table. Reads take the pool; every write takes the connection of a transaction
 * the journal opened, because a row change is never written without its audit event and its
 * notifications (src/supervisor/journal.ts is the only caller of the writes).
 */

/** Columns a status change may set besides the status itself. */
export interface TransitionPatch {
  reconnectAttempts?: number;
  lastError?: string | null;
  wid?: string | null;
  pushName?: string | null;
  lastConnectedAt?: Date | null;
}

const PATCH_COLUMNS: Record<keyof TransitionPatch, string> = {
  reconnectAttempts: 'reconnect_attempts',
  lastError: 'last_error',
  wid: 'wid',
  pushName: 'push_name',
  lastConnectedAt: 'last_connected_at',
};

function toInstance(r: RowDataPacket): Instance {
  return {
    id: r.id,
    enabled: r.enabled === 1,
    connectionStatus: r.connection_status,
    statusReason: r.status_reason,
    statusChangedAt: r.status_changed_at,
    health: r.health,
    healthReason: r.health_reason,
    reconnectAttempts: Number(r.reconnect_attempts),
    lastConnectedAt: r.last_connected_at,
    lastError: r.last_error,
    wid: r.wid,
    pushName: r.push_name,
    webhookUrl: r.webhook_url,
    pairingCodeAttempts: Number(r.pairing_code_attempts),
    node: Number(r.lease_live) === 1 ? (r.owner_node as string) : null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/**
 * The columns an Instance is made of, named: the instance's webhook secret and the lease's
 * bookkeeping stay out of every read (the list reads all rows on each request).
 */
const SELECT =
  'SELECT id, enabled, connection_status, status_reason, status_changed_at, health, health_reason, reconnect_attempts, last_connected_at, ' +
  'last_error, wid, push_name, webhook_url, pairing_code_attempts, owner_node, created_at, updated_at, ' +
  '(owner_node IS NOT NULL AND lease_until > NOW(3)) AS lease_live FROM instances';

export class InstancesRepository {
  constructor(
    readonly pool: Pool,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get(id: string): Promise<Instance | null> {
    const [rows] = await this.pool.query<RowDataPacket[]>(`${SELECT} WHERE id = ?`, [id]);
    return rows[0] ? toInstance(rows[0]) : null;
  }

  async require(id: string): Promise<Instance> {
    const found = await this.get(id);
    if (!found) throw new InstanceNotFoundError(id);
    return found;
  }

  /**
   * The instance's webhook secret: read once, right after it was generated, to hand it to the
   * operator. Not part of the Instance shape, so no view, event or log line can carry it.
   */
  async webhookSecret(id: string): Promise<string | null> {
    const [rows] = await this.pool.query<RowDataPacket[]>('SELECT webhook_secret FROM instances WHERE id = ?', [id]);
    return (rows[0]?.webhook_secret as string | null | undefined) ?? null;
  }

  async list(filter: { enabled?: boolean } = {}): Promise<Instance[]> {
    const where = filter.enabled === undefined ? '' : ` WHERE enabled = ${filter.enabled ? 1 : 0}`;
    const [rows] = await this.pool.query<RowDataPacket[]>(`${SELECT}${where} ORDER BY id`);
    return rows.map(toInstance);
  }

  /**
   * Counts one pairing-code request against the instance's window, atomically: refused (false)
   * when `max` requests were already made inside the current window. A rate counter, not a
   * change of the instance: it has no event and no notification.
   */
  async takePairingAttempt(id: string, windowMs: number, max: number): Promise<{ allowed: boolean; attempts: number }> {
    const at = this.now();
    const windowStart = new Date(at.getTime() - windowMs);
    const [res] = await this.pool.query<ResultSetHeader>(
      `UPDATE instances SET
         pairing_code_attempts = IF(pairing_window_started_at IS NULL OR pairing_window_started_at < ?, 1, pairing_code_attempts + 1),
         pairing_window_started_at = IF(pairing_window_started_at IS NULL OR pairing_window_started_at < ?, ?, pairing_window_started_at)
       WHERE id = ? AND NOT (pairing_window_started_at >= ? AND pairing_code_attempts >= ?)`,
      [windowStart, windowStart, at, id, windowStart, max],
    );
    const row = await this.require(id);
    return { allowed: res.affectedRows === 1, attempts: row.pairingCodeAttempts };
  }
}

/** The row writes, each inside the caller's transaction. */
export const instanceRows = {
  async insert(conn: Connection, id: string, options: { enabled: boolean; webhookUrl: string | null; webhookSecret?: string | null }, at: Date): Promise<void> {
    try {
      await conn.query(
        `INSERT INTO instances (id, enabled, connection_status, status_reason, status_changed_at, webhook_url, webhook_secret, created_at, updated_at)
         VALUES (?, ?, 'DISCONNECTED', 'created', ?, ?, ?, ?, ?)`,
        [id, options.enabled ? 1 : 0, at, options.webhookUrl, options.webhookUrl ? (options.webhookSecret ?? null) : null, at, at],
      );
    } catch (err) {
      if ((err as { code?: string }).code === 'ER_DUP_ENTRY') throw new InstanceExistsError(id);
      throw err;
    }
  },

  /**
   * Moves the status from `from` to `to` only if the row is still in `from` (optimistic). Returns
   * true when applied, else the status the row actually has (null: no such row).
   */
  async moveStatus(
    conn: Connection,
    id: string,
    move: { from: ConnectionStatus; to: ConnectionStatus; reason: string | null; patch?: TransitionPatch | undefined },
    at: Date,
  ): Promise<true | ConnectionStatus | null> {
    const sets = ['connection_status = ?', 'status_reason = ?', 'status_changed_at = ?', 'updated_at = ?'];
    const values: unknown[] = [move.to, move.reason?.slice(0, 255) ?? null, at, at];
    for (const [key, value] of Object.entries(move.patch ?? {})) {
      sets.push(`${PATCH_COLUMNS[key as keyof TransitionPatch]} = ?`);
      values.push(value);
    }
    const [res] = await conn.query<ResultSetHeader>(`UPDATE instances SET ${sets.join(', ')} WHERE id = ? AND connection_status = ?`, [...values, id, move.from]);
    if (res.affectedRows === 1) return true;
    const [rows] = await conn.query<RowDataPacket[]>('SELECT connection_status FROM instances WHERE id = ?', [id]);
    return (rows[0]?.connection_status as ConnectionStatus | undefined) ?? null;
  },

  /** False when the row is gone. */
  async setHealth(conn: Connection, id: string, health: Health, reason: string | null, at: Date): Promise<boolean> {
    const [res] = await conn.query<ResultSetHeader>('UPDATE instances SET health = ?, health_reason = ?, updated_at = ? WHERE id = ?', [
      health,
      reason?.slice(0, 255) ?? null,
      at,
      id,
    ]);
    return res.affectedRows === 1;
  },

  /** False when nothing changed (already so, or no such row). */
  async setEnabled(conn: Connection, id: string, enabled: boolean, at: Date): Promise<boolean> {
    const flag = enabled ? 1 : 0;
    const [res] = await conn.query<ResultSetHeader>('UPDATE instances SET enabled = ?, updated_at = ? WHERE id = ? AND enabled <> ?', [flag, at, id, flag]);
    return res.affectedRows === 1;
  },

  /** Sets (or with null clears) the webhook URL, who set it, and its secret. False when the row is gone. */
  async setWebhook(conn: Connection, id: string, webhook: { url: string | null; scope: 'admin' | 'instance'; secret: string | null }, at: Date): Promise<boolean> {
    const [res] = await conn.query<ResultSetHeader>(
      'UPDATE instances SET webhook_url = ?, webhook_url_scope = ?, webhook_secret = ?, updated_at = ? WHERE id = ?',
      [webhook.url, webhook.scope, webhook.url ? webhook.secret : null, at, id],
    );
    return res.affectedRows === 1;
  },

  /** Replaces the webhook secret; false when the row is gone or has no webhook URL. */
  async setWebhookSecret(conn: Connection, id: string, secret: string, at: Date): Promise<boolean> {
    const [res] = await conn.query<ResultSetHeader>(
      "UPDATE instances SET webhook_secret = ?, updated_at = ? WHERE id = ? AND webhook_url IS NOT NULL AND webhook_url <> ''",
      [secret, at, id],
    );
    return res.affectedRows === 1;
  },

  async remove(conn: Connection, id: string): Promise<boolean> {
    const [res] = await conn.query<ResultSetHeader>('DELETE FROM instances WHERE id = ?', [id]);
    return res.affectedRows === 1;
  },
};
