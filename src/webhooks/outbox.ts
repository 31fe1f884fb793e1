import { randomUUID } from 'node:crypto';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Severity } from '../domain/instance.js';
import type { Connection, Pool } from '../db/pool.js';

/*
 * The webhook outbox: one row per notification per receiver URL. Rows are written inside the
 * transaction of the change that caused them, so a notification exists exactly when its change
 * does; dispatchers then claim, send and mark them. Every query about the table lives here.
 */

/** Something worth telling the receivers about; `event` is a fleet event name (`connection.update`, …). */
export interface Notification {
  event: string;
  severity: Severity;
  /** Null for fleet-wide notifications (a host memory alert): those go to the global URL only. */
  instanceId: string | null;
  payload: Record<string, unknown>;
  at: Date;
}

/** One pending delivery: a notification bound for one URL. */
export interface OutboxRow {
  id: number;
  /** Shared by every URL's row of one notification: the receivers' idempotency key. */
  eventId: string;
  instanceId: string | null;
  event: string;
  severity: Severity;
  url: string;
  /** Which secret signs it at send time: WEBHOOK_SECRET (`global`), or its instance's current one. */
  signer: 'global' | 'instance';
  /** Who chose the URL: one chosen by an instance's own key is checked again when each delivery connects. */
  urlScope: 'admin' | 'instance';
  payload: Record<string, unknown>;
  /** Failed deliveries so far. */
  attempts: number;
  /** When the notification happened (its `at`). */
  createdAt: Date;
}

/** A row this dispatcher owns until `claimedUntil`; marks only apply while `claimToken` is still on it. */
export interface ClaimedRow extends OutboxRow {
  claimToken: string;
  claimedUntil: Date;
  /**
   * For a row signed by its instance: the instance's webhook secret as the row is claimed (or the
   * one pinned when its URL changed or the instance went); null when it has none (a URL set before
   * per-instance secrets: WEBHOOK_SECRET signs it). Never logged, never shown.
   */
  instanceSecret: string | null;
}

/** A dead-lettered row, as `GET /api/webhooks/failed` shows it. */
export interface FailedWebhook extends OutboxRow {
  lastError: string | null;
  lastStatusCode: number | null;
}

const LAST_ERROR_MAX = 1024;
const COLUMNS = 'id, event_id, instance_id, event, severity, url, signer, url_scope, payload, attempts, created_at';

function toRow(r: RowDataPacket): OutboxRow {
  return {
    id: Number(r.id),
    eventId: r.event_id as string,
    instanceId: (r.instance_id as string | null) ?? null,
    event: r.event as string,
    severity: r.severity as Severity,
    url: r.url as string,
    signer: r.signer === 'instance' ? 'instance' : 'global',
    urlScope: r.url_scope === 'instance' ? 'instance' : 'admin',
    // MariaDB's JSON is LONGTEXT, so the driver hands back the text.
    payload: typeof r.payload === 'string' ? (JSON.parse(r.payload) as Record<string, unknown>) : (r.payload as Record<string, unknown>),
    attempts: Number(r.attempts),
    createdAt: r.created_at as Date,
  };
}

/**
 * Writes one row per notification per target inside the caller's transaction: the global URL
 * when set, and the instance's own `webhook_url` when it has one (read here, in the same
 * transaction, so a URL changed by that transaction is honoured). A URL set in both places gets
 * one row, signed by WEBHOOK_SECRET. Rows for the instance's own URL are signed at send time with
 * the instance's secret, and carry who set the URL (an instance key's URL is checked again when
 * each delivery connects). Call it before deleting an instance row if that instance's receiver should hear of
 * the removal. `dueAt` is when the rows are first due (the change's time): dispatchers claim in
 * (due, id) order, so notifications of one change, and of changes recorded one after another, go
 * out in the order they were recorded, whatever times their payloads carry. Returns the number of
 * rows written.
 */
export async function insertNotifications(
  conn: Connection,
  notes: readonly Notification[],
  targets: { globalUrl?: string | undefined },
  dueAt?: Date,
): Promise<number> {
  const instanceUrls = await readInstanceUrls(conn, notes);
  const values: unknown[][] = [];
  for (const note of notes) {
    const own = note.instanceId === null ? undefined : instanceUrls.get(note.instanceId);
    const targetsOf: Array<[string, 'global' | 'instance', 'admin' | 'instance']> = [];
    if (targets.globalUrl) targetsOf.push([targets.globalUrl, 'global', 'admin']);
    if (own && own.url !== targets.globalUrl) targetsOf.push([own.url, 'instance', own.scope]);
    const eventId = randomUUID();
    for (const [url, signer, scope] of targetsOf) {
      values.push([eventId, note.instanceId, note.event, note.severity, url, signer, scope, JSON.stringify(note.payload), dueAt ?? note.at, note.at]);
    }
  }
  if (values.length === 0) return 0;
  await conn.query(
    'INSERT INTO webhook_outbox (event_id, instance_id, event, severity, url, signer, url_scope, payload, next_attempt_at, created_at) VALUES ?',
    [values],
  );
  return values.length;
}

async function readInstanceUrls(conn: Connection, notes: readonly Notification[]): Promise<Map<string, { url: string; scope: 'admin' | 'instance' }>> {
  const ids = [...new Set(notes.map((n) => n.instanceId).filter((id): id is string => id !== null))];
  if (ids.length === 0) return new Map();
  const [rows] = await conn.query<RowDataPacket[]>(
    "SELECT id, webhook_url, webhook_url_scope FROM instances WHERE id IN (?) AND webhook_url IS NOT NULL AND webhook_url <> ''",
    [ids],
  );
  return new Map(rows.map((r) => [r.id as string, { url: r.webhook_url as string, scope: r.webhook_url_scope === 'instance' ? 'instance' : 'admin' }]));
}

/**
 * Inside the transaction that changes an instance's webhook URL or removes the instance (before
 * the change): its rows still pending for its own URL keep the secret that URL had, so the old
 * receiver can still verify them. Otherwise a row is signed with the instance's current secret.
 */
export async function pinPendingSecrets(conn: Connection, instanceId: string): Promise<void> {
  await conn.query(
    `UPDATE webhook_outbox o JOIN instances i ON i.id = o.instance_id
        SET o.pinned_secret = i.webhook_secret
      WHERE o.instance_id = ? AND o.signer = 'instance' AND o.status <> 'delivered' AND o.pinned_secret IS NULL`,
    [instanceId],
  );
}

/**
 * Claims up to `limit` due rows (pending, due, not leased by anyone else), oldest first, for
 * `leaseMs`. SKIP LOCKED lets two dispatchers claim at once without waiting on each other or
 * taking the same row; the lease written before commit keeps the row theirs after it.
 */
export async function claimDue(pool: Pool, opts: { now: Date; limit: number; leaseMs: number }): Promise<ClaimedRow[]> {
  const token = randomUUID();
  const until = new Date(opts.now.getTime() + opts.leaseMs);
  // The poll runs every second on every supervisor: when nothing is due (the usual case) one plain
  // read answers, instead of a transaction of three statements.
  const [any] = await pool.query<RowDataPacket[]>(
    `SELECT 1 FROM webhook_outbox WHERE status = 'pending' AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?) LIMIT 1`,
    [opts.now, opts.now],
  );
  if (any.length === 0) return [];
  const conn = await pool.getConnection();
  try {
    // Every session of the pool runs READ COMMITTED (SESSION_SETUP): the locking read takes no gap
    // locks, so a claim never makes a status transition wait to insert its notification.
    await conn.beginTransaction();
    const [due] = await conn.query<RowDataPacket[]>(
      `SELECT id FROM webhook_outbox
        WHERE status = 'pending' AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
        ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED`,
      [opts.now, opts.now, opts.limit],
    );
    if (due.length === 0) {
      await conn.commit();
      return [];
    }
    await conn.query('UPDATE webhook_outbox SET claim_token = ?, claimed_until = ? WHERE id IN (?)', [
      token,
      until,
      due.map((r) => r.id as number),
    ]);
    // The signing secret is read here, as the row is about to be sent: a rotation reaches rows already queued.
    const [rows] = await conn.query<RowDataPacket[]>(
      `SELECT ${COLUMNS.split(', ').map((c) => `o.${c}`).join(', ')}, COALESCE(o.pinned_secret, i.webhook_secret) AS instance_secret
         FROM webhook_outbox o LEFT JOIN instances i ON o.signer = 'instance' AND i.id = o.instance_id
        WHERE o.claim_token = ? ORDER BY o.next_attempt_at, o.id`,
      [token],
    );
    await conn.commit();
    return rows.map((r) => ({ ...toRow(r), claimToken: token, claimedUntil: until, instanceSecret: (r.instance_secret as string | null) ?? null }));
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    throw err;
  } finally {
    conn.release();
  }
}

async function updateClaimed(pool: Pool, row: ClaimedRow, set: string, params: unknown[]): Promise<boolean> {
  const [result] = await pool.query<ResultSetHeader>(
    `UPDATE webhook_outbox SET ${set}, claim_token = NULL, claimed_until = NULL WHERE id = ? AND claim_token = ?`,
    [...params, row.id, row.claimToken],
  );
  return result.affectedRows === 1;
}

/** False when the claim was lost (lease ran out and someone else took the row): nothing changed. */
export function markDelivered(pool: Pool, row: ClaimedRow, opts: { at: Date; statusCode: number }): Promise<boolean> {
  return updateClaimed(pool, row, "status = 'delivered', delivered_at = ?, last_status_code = ?, pinned_secret = NULL", [opts.at, opts.statusCode]);
}

/** Counts the failed attempt and schedules the next one. */
export function markFailed(
  pool: Pool,
  row: ClaimedRow,
  opts: { nextAttemptAt: Date; error: string; statusCode: number | null },
): Promise<boolean> {
  return updateClaimed(pool, row, 'attempts = attempts + 1, next_attempt_at = ?, last_error = ?, last_status_code = ?', [
    opts.nextAttemptAt,
    opts.error.slice(0, LAST_ERROR_MAX),
    opts.statusCode,
  ]);
}

/** Counts the last failed attempt and dead-letters the row: nobody sends it again unless retryDead. */
export function markDead(pool: Pool, row: ClaimedRow, opts: { error: string; statusCode: number | null }): Promise<boolean> {
  return updateClaimed(pool, row, "status = 'dead', attempts = attempts + 1, last_error = ?, last_status_code = ?", [
    opts.error.slice(0, LAST_ERROR_MAX),
    opts.statusCode,
  ]);
}

/**
 * Gives rows back unsent, without counting an attempt (shutdown, an open circuit). With
 * `notBefore` they are not due again until then; otherwise the next pass may take them at once.
 */
export async function releaseClaims(pool: Pool, rows: readonly ClaimedRow[], notBefore?: Date): Promise<number> {
  if (rows.length === 0) return 0;
  const [result] = await pool.query<ResultSetHeader>(
    `UPDATE webhook_outbox SET claim_token = NULL, claimed_until = NULL, next_attempt_at = GREATEST(next_attempt_at, ?)
      WHERE (id, claim_token) IN (?)`,
    [notBefore ?? new Date(0), rows.map((r) => [r.id, r.claimToken])],
  );
  return result.affectedRows;
}

/** Dead-lettered rows, newest first; with `instanceId`, only those bound for that instance's own URL. */
export async function listFailed(pool: Pool, opts: { limit: number; instanceId?: string }): Promise<FailedWebhook[]> {
  const own = opts.instanceId === undefined ? '' : " AND instance_id = ? AND signer = 'instance'";
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT ${COLUMNS}, last_error, last_status_code FROM webhook_outbox WHERE status = 'dead'${own} ORDER BY id DESC LIMIT ?`,
    opts.instanceId === undefined ? [opts.limit] : [opts.instanceId, opts.limit],
  );
  return rows.map((r) => ({
    ...toRow(r),
    lastError: (r.last_error as string | null) ?? null,
    lastStatusCode: r.last_status_code === null ? null : Number(r.last_status_code),
  }));
}

/**
 * Puts a dead row back in the queue with a fresh attempt budget, due now. False when `id` is not
 * a dead row (unknown, pending or already delivered), so a retry cannot resend a delivered event.
 */
export async function retryDead(pool: Pool, id: number, now: Date = new Date()): Promise<boolean> {
  if (!Number.isSafeInteger(id) || id < 1) return false;
  const [result] = await pool.query<ResultSetHeader>(
    `UPDATE webhook_outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, claim_token = NULL, claimed_until = NULL
      WHERE id = ? AND status = 'dead'`,
    [now, id],
  );
  return result.affectedRows === 1;
}
