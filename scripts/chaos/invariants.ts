import type { RowDataPacket } from 'mysql2';
import type { Pool } from '../../src/db/pool.js';
import { verifyWebhook } from '../../src/webhooks/verify.js';
import type { Receiver } from '../../tests/support/webhook-receiver.js';
import type { InstanceSummary } from '../support/api-client.js';

/** The database-side invariants of a chaos run, read straight from the supervisor's MySQL. */

/** Every instance the run made must still be there, enabled, its row agreeing with the supervisor's live status. */
export async function rowViolations(pool: Pool, ids: readonly string[], live: InstanceSummary[]): Promise<string[]> {
  const violations: string[] = [];
  const [rows] = await pool.query<RowDataPacket[]>('SELECT id, enabled, connection_status FROM instances');
  const byId = new Map(rows.map((r) => [String(r.id), r]));
  const liveById = new Map(live.map((i) => [i.id, i]));
  for (const id of ids) {
    const row = byId.get(id);
    if (!row) {
      violations.push(`instance ${id} is missing from the database`);
      continue;
    }
    if (Number(row.enabled) !== 1) violations.push(`instance ${id} was disabled`);
    const view = liveById.get(id);
    if (!view) violations.push(`instance ${id} is missing from the API`);
    else if (view.connectionStatus !== row.connection_status) violations.push(`${id}: row says ${row.connection_status}, the supervisor ${view.connectionStatus}`);
  }
  return violations;
}

/**
 * Each instance's recorded status changes (`to_status`), in `seq` order: what the announced changes
 * are checked against. With `node`, only those that node recorded (a node's event stream announces
 * its own changes).
 */
export async function recordedStatuses(pool: Pool, node?: string): Promise<Map<string, string[]>> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT instance_id, to_status FROM instance_events WHERE to_status IS NOT NULL${node === undefined ? '' : ' AND node = ?'} ORDER BY instance_id, seq`,
    node === undefined ? [] : [node],
  );
  const byId = new Map<string, string[]>();
  for (const r of rows) byId.set(String(r.instance_id), [...(byId.get(String(r.instance_id)) ?? []), String(r.to_status)]);
  return byId;
}

export interface QrEvents {
  /** Instances shown a QR (or a QR rotation) since the last call. */
  asked: Set<string>;
  lastEventId: number;
}

/** Which instances were asked for a new QR in the events after `afterId`. */
export async function qrAskedSince(pool: Pool, afterId: number): Promise<QrEvents> {
  const [rows] = await pool.query<RowDataPacket[]>(
    "SELECT id, instance_id FROM instance_events WHERE id > ? AND (to_status = 'QR_REQUIRED' OR type = 'qr.rotated') ORDER BY id",
    [afterId],
  );
  const [[top]] = await pool.query<RowDataPacket[]>('SELECT COALESCE(MAX(id), 0) AS id FROM instance_events');
  return { asked: new Set(rows.map((r) => String(r.instance_id))), lastEventId: Math.max(afterId, Number(top?.id ?? 0)) };
}

export async function pendingWebhooks(pool: Pool): Promise<number> {
  const [[row]] = await pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM webhook_outbox WHERE status = 'pending'");
  return Number(row?.n ?? 0);
}

/**
 * Exactly once, once the receiver is back and the queue is drained: every queued notification
 * delivered (none dead, none pending), each accepted by the receiver exactly once with a valid
 * signature, and nothing accepted that was never queued.
 */
export async function webhookViolations(pool: Pool, receiver: Receiver, secret: string, supervisorKills: ReadonlyArray<KillWindow> = []): Promise<{ violations: string[]; repeatsAfterKill: number }> {
  const violations: string[] = [];
  const [rows] = await pool.query<RowDataPacket[]>('SELECT event_id, status FROM webhook_outbox');
  // Exactly-once over nothing proves nothing: a run that queued no webhook has no evidence.
  if (rows.length === 0) violations.push('no webhook was queued: nothing to check delivery against');
  const counts = receiver.acceptedCounts();
  const notDelivered = rows.filter((r) => r.status !== 'delivered');
  if (notDelivered.length > 0) violations.push(`${notDelivered.length} webhook rows not delivered (${[...new Set(notDelivered.map((r) => r.status))].join(', ')})`);
  const queued = new Set(rows.map((r) => String(r.event_id)));
  const missing = rows.filter((r) => r.status === 'delivered' && !counts.has(String(r.event_id)));
  if (missing.length > 0) violations.push(`${missing.length} webhook events marked delivered but never accepted by the receiver`);
  // Delivery is at least once: a supervisor SIGKILLed between the receiver's answer and marking
  // the row delivered sends it again after the restart (the README says so). Such a repeat is
  // counted; any other is a violation.
  const repeats = excusedRepeats(receiver.accepted(), supervisorKills);
  if (repeats.unexplained.length > 0) {
    violations.push(`${repeats.unexplained.length} webhook events accepted more than once with no supervisor kill in between (e.g. ${repeats.unexplained[0]})`);
  }
  const unknown = [...counts.keys()].filter((id) => !queued.has(id));
  if (unknown.length > 0) violations.push(`${unknown.length} webhook events accepted that were never queued`);
  // Checked after the run, so not against the clock (a real receiver refuses anything over 5 minutes old on arrival).
  const badSignatures = receiver.accepted().filter((d) => !verifyWebhook(secret, d.headers, d.body, { toleranceSec: Number.POSITIVE_INFINITY }));
  if (badSignatures.length > 0) violations.push(`${badSignatures.length} webhook deliveries with a bad signature`);
  return { violations, repeatsAfterKill: repeats.afterKill };
}

/**
 * When a dispatcher may have lost the mark of a delivery the receiver answered: the instant of a
 * supervisor's SIGKILL, or the span [from, to] a node was cut from MySQL or stopped (it cannot
 * mark, its claim lapses, another node delivers again).
 */
export type KillWindow = number | readonly [number, number];

/**
 * Repeated acceptances of one event id: each repeat is excused when a kill window overlaps the
 * time between the acceptance before it and its own arrival (answered, not yet marked delivered);
 * the rest are returned as `<event id> ×n at <arrival times, UTC>`.
 */
export function excusedRepeats(accepted: ReadonlyArray<{ eventId: string; at: number }>, supervisorKills: ReadonlyArray<KillWindow>): { afterKill: number; unexplained: string[] } {
  const windows = supervisorKills.map((k) => (typeof k === 'number' ? [k, k] : k));
  const byEvent = new Map<string, number[]>();
  for (const d of accepted) byEvent.set(d.eventId, [...(byEvent.get(d.eventId) ?? []), d.at]);
  let afterKill = 0;
  const unexplained: string[] = [];
  for (const [eventId, times] of byEvent) {
    if (times.length < 2) continue;
    const sorted = [...times].sort((a, b) => a - b);
    let excused = 0;
    for (let i = 1; i < sorted.length; i++) if (windows.some(([from, to]) => to >= sorted[i - 1]! && from <= sorted[i]!)) excused++;
    afterKill += excused;
    if (excused < sorted.length - 1) unexplained.push(`${eventId} ×${sorted.length} at ${sorted.map((t) => new Date(t).toISOString().slice(11, 23)).join(', ')}`);
  }
  return { afterKill, unexplained };
}

/**
 * Notifications and recorded changes one to one: per instance, the `connection.update` rows queued
 * for the global webhook URL carry exactly the status changes recorded in `instance_events`
 * (rows that changed the status), in the same order. A change recorded without its notification,
 * or a notification of a change never recorded, breaks the sequence. Returns the violations and
 * how many changes were compared.
 */
export async function notificationViolations(pool: Pool, globalUrl: string): Promise<{ violations: string[]; compared: number }> {
  const [events] = await pool.query<RowDataPacket[]>(
    'SELECT instance_id, to_status FROM instance_events WHERE from_status IS NOT NULL AND to_status IS NOT NULL AND from_status <> to_status ORDER BY instance_id, seq',
  );
  const [notes] = await pool.query<RowDataPacket[]>(
    "SELECT instance_id, payload FROM webhook_outbox WHERE event = 'connection.update' AND url = ? ORDER BY instance_id, created_at, id",
    [globalUrl],
  );
  const recorded = groupBy(events, (r) => String(r.to_status));
  const notified = groupBy(notes, (r) => String((typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload).status));
  const violations: string[] = [];
  for (const id of new Set([...recorded.keys(), ...notified.keys()])) {
    const a = recorded.get(id) ?? [];
    const b = notified.get(id) ?? [];
    const at = a.findIndex((s, i) => s !== b[i]);
    if (a.length !== b.length || at >= 0) {
      const k = at >= 0 ? at : Math.min(a.length, b.length);
      violations.push(`${id}: ${a.length} status changes recorded, ${b.length} notified; first difference at #${k + 1}: recorded ${a[k] ?? '–'}, notified ${b[k] ?? '–'}`);
    }
  }
  return { violations, compared: events.length };
}

function groupBy(rows: RowDataPacket[], value: (r: RowDataPacket) => string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of rows) out.set(String(r.instance_id), [...(out.get(String(r.instance_id)) ?? []), value(r)]);
  return out;
}
