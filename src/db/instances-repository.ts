import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { ConnectionStatus, Health, Instance, NewEvent } from '../domain/instance.js';
import { InstanceExistsError, InstanceNotFoundError } from '../errors/index.js';
import { insertNotifications, type Notification } from '../webhooks/outbox.js';
import { insertEvent } from './events.js';
import { inTransaction, type Connection, type Pool } from './pool.js';

/** Columns a status transition may change besides the status itself. */
export interface TransitionPatch {
  reconnectAttempts?: number;
  lastError?: string | null;
  wid?: string | null;
  pushName?: string | null;
  lastConnectedAt?: Date | null;
}

export interface Transition {
  from: ConnectionStatus;
  to: ConnectionStatus;
  reason?: string | null;
  patch?: TransitionPatch;
  /** The audit event written with it; from/to/reason are filled in. */
  event: Pick<NewEvent, 'category' | 'type' | 'severity' | 'data'>;
  /** Webhook notifications caused by this change, queued in the same transaction. */
  notifications?: readonly Notification[];
}

export type TransitionResult =
  | { applied: true; instance: Instance; seq: number }
  | { applied: false; actual: ConnectionStatus | null };

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
    pairingCodeExpiresAt: r.pairing_code_expires_at,
    pairingCodeAttempts: Number(r.pairing_code_attempts),
    ownerNode: r.owner_node,
    leaseUntil: r.lease_until,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

const SELECT = 'SELECT * FROM instances';

/** The `instances` table and its audit log. Every write that changes a row appends an event in the same transaction. */
export class InstancesRepository {
  constructor(
    readonly pool: Pool,
    private readonly now: () => Date = () => new Date(),
    /** Where notifications go besides each instance's own webhook_url. */
    private readonly webhookTargets: { globalUrl?: string } = {},
  ) {}

  private async queue(conn: Connection, notes: readonly Notification[] | undefined): Promise<void> {
    if (notes && notes.length > 0) await insertNotifications(conn, notes, this.webhookTargets);
  }

  async create(id: string, options: { enabled?: boolean; webhookUrl?: string | null } = {}): Promise<Instance> {
    const at = this.now();
    await inTransaction(this.pool, async (conn) => {
      try {
        await conn.query(
          `INSERT INTO instances (id, enabled, connection_status, status_reason, status_changed_at, webhook_url, created_at, updated_at)
           VALUES (?, ?, 'DISCONNECTED', 'created', ?, ?, ?, ?)`,
          [id, options.enabled === false ? 0 : 1, at, options.webhookUrl ?? null, at, at],
        );
      } catch (err) {
        if ((err as { code?: string }).code === 'ER_DUP_ENTRY') throw new InstanceExistsError(id);
        throw err;
      }
      await insertEvent(conn, id, { category: 'SESSION', type: 'instance.created', toStatus: 'DISCONNECTED' }, at);
    });
    return this.require(id);
  }

  async get(id: string): Promise<Instance | null> {
    const [rows] = await this.pool.query<RowDataPacket[]>(`${SELECT} WHERE id = ?`, [id]);
    return rows[0] ? toInstance(rows[0]) : null;
  }

  async require(id: string): Promise<Instance> {
    const found = await this.get(id);
    if (!found) throw new InstanceNotFoundError(id);
    return found;
  }

  async list(filter: { enabled?: boolean } = {}): Promise<Instance[]> {
    const where = filter.enabled === undefined ? '' : ` WHERE enabled = ${filter.enabled ? 1 : 0}`;
    const [rows] = await this.pool.query<RowDataPacket[]>(`${SELECT}${where} ORDER BY id`);
    return rows.map(toInstance);
  }

  /** Records the operator's intent. Returns whether it changed anything; an unchanged call writes no event. */
  async setEnabled(id: string, enabled: boolean, notifications?: readonly Notification[]): Promise<{ changed: boolean; instance: Instance }> {
    const at = this.now();
    const changed = await inTransaction(this.pool, async (conn) => {
      const [res] = await conn.query<ResultSetHeader>('UPDATE instances SET enabled = ?, updated_at = ? WHERE id = ? AND enabled <> ?', [
        enabled ? 1 : 0,
        at,
        id,
        enabled ? 1 : 0,
      ]);
      if (res.affectedRows === 0) return false;
      await insertEvent(conn, id, { category: 'SESSION', type: enabled ? 'instance.enabled' : 'instance.disabled' }, at);
      await this.queue(conn, notifications);
      return true;
    });
    return { changed, instance: await this.require(id) };
  }

  /**
   * Moves the status from `from` to `to` only if the row is still in `from` (optimistic), and
   * appends the event in the same transaction. A row in another status is left untouched and
   * the status it actually has is reported.
   */
  async transition(id: string, t: Transition): Promise<TransitionResult> {
    const at = this.now();
    const sets = ['connection_status = ?', 'status_reason = ?', 'status_changed_at = ?', 'updated_at = ?'];
    const values: unknown[] = [t.to, t.reason ?? null, at, at];
    for (const [key, value] of Object.entries(t.patch ?? {})) {
      sets.push(`${PATCH_COLUMNS[key as keyof TransitionPatch]} = ?`);
      values.push(value);
    }
    const seq = await inTransaction(this.pool, async (conn) => {
      const [res] = await conn.query<ResultSetHeader>(
        `UPDATE instances SET ${sets.join(', ')} WHERE id = ? AND connection_status = ?`,
        [...values, id, t.from],
      );
      if (res.affectedRows === 0) return null;
      await this.queue(conn, t.notifications);
      return insertEvent(conn, id, { ...t.event, fromStatus: t.from, toStatus: t.to, reason: t.reason ?? null }, at);
    });
    if (seq === null) {
      const current = await this.get(id);
      return { applied: false, actual: current?.connectionStatus ?? null };
    }
    return { applied: true, instance: await this.require(id), seq };
  }

  /** Deletes the row; the audit log keeps its history and gets a last `instance.removed` event. */
  async remove(id: string, notifications?: readonly Notification[]): Promise<boolean> {
    const at = this.now();
    return inTransaction(this.pool, async (conn) => {
      // Queued before the row goes: the instance's own webhook_url is read from it.
      await this.queue(conn, notifications);
      const [res] = await conn.query<ResultSetHeader>('DELETE FROM instances WHERE id = ?', [id]);
      if (res.affectedRows === 0) return false;
      await insertEvent(conn, id, { category: 'SESSION', type: 'instance.removed' }, at);
      return true;
    });
  }

  /**
   * Counts one pairing-code request against the instance's window, atomically: refused (false)
   * when `max` requests were already made inside the current window.
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

  /** Keeps the code the phone must enter, and until when it is valid. */
  async storePairingCode(id: string, code: string, expiresAt: Date): Promise<void> {
    await this.pool.query('UPDATE instances SET pairing_code = ?, pairing_code_expires_at = ? WHERE id = ?', [code, expiresAt, id]);
  }

  /**
   * Stores the checks' verdict and appends a `health.changed` event (from/to health in its data),
   * with its notifications, in one transaction. Returns false when the row is gone.
   */
  async setHealth(
    id: string,
    change: { health: Health; reason: string | null; previous: Health; severity?: NewEvent['severity'] },
    notifications?: readonly Notification[],
  ): Promise<boolean> {
    const at = this.now();
    return inTransaction(this.pool, async (conn) => {
      const [res] = await conn.query<ResultSetHeader>('UPDATE instances SET health = ?, health_reason = ?, updated_at = ? WHERE id = ?', [
        change.health,
        change.reason?.slice(0, 255) ?? null,
        at,
        id,
      ]);
      if (res.affectedRows === 0) return false;
      await this.queue(conn, notifications);
      await insertEvent(
        conn,
        id,
        { category: 'HEALTH', type: 'health.changed', reason: change.reason, severity: change.severity ?? null, data: { from: change.previous, to: change.health } },
        at,
      );
      return true;
    });
  }

  /** Appends an event that changes no column (an action, a check result), with its notifications. */
  async appendEvent(id: string, event: NewEvent, notifications?: readonly Notification[]): Promise<number> {
    return inTransaction(this.pool, async (conn) => {
      await this.queue(conn, notifications);
      return insertEvent(conn, id, event, this.now());
    });
  }
}
