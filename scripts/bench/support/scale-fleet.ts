import type { RowDataPacket } from 'mysql2/promise';
import { sleep } from '../../../lib/timeout.js';
import type { Pool } from '../../../src/db/pool.js';
import type { ApiClient, InstanceSummary } from '../../support/api-client.js';
import { describeError } from './machine.js';

/** The scale bench's fleet through the public API, and its recorded history from the database. */

/** The list (linking) or the recorded changes (boot) are read this often. */
const POLL_MS = 1_000;
/** A scan not followed by CONNECTED within this is sent again (the page may have been reloading). */
const RESCAN_AFTER_MS = 15_000;

/** `CONNECTED 48, LOADING 2`. */
function statusCounts(list: readonly Pick<InstanceSummary, 'connectionStatus'>[]): string {
  const count = new Map<string, number>();
  for (const i of list) count.set(i.connectionStatus, (count.get(i.connectionStatus) ?? 0) + 1);
  return [...count.entries()].map(([s, c]) => `${s} ${c}`).join(', ') || 'none yet';
}

/**
 * Reads the instance list; a failed read (an error status or no answer) is the supervisor's
 * failure, noted in `failures`, and gives null so the caller polls again.
 */
export async function listOrNote(api: ApiClient, failures: string[]): Promise<InstanceSummary[] | null> {
  try {
    return await api.instances();
  } catch (err) {
    failures.push(`GET /api/instances: ${describeError(err)}`);
    return null;
  }
}

/**
 * Creates the instances one at a time (two creations at once can deadlock in the database, and a
 * bench is not the place to hide that), then links each through the demo scan once it shows its
 * QR, one list read a second rather than a poll per instance. Resolves when all are CONNECTED.
 */
export async function createAndLink(api: ApiClient, ids: readonly string[], timeoutMs: number, failures: string[], onProgress: (line: string) => void): Promise<void> {
  for (const id of ids) await api.create(id);
  onProgress(`${ids.length} instances created; linking each with the demo scan`);
  const scannedAt = new Map<string, number>();
  const deadline = Date.now() + timeoutMs;
  let reportedAt = 0;
  for (;;) {
    const list = (await listOrNote(api, failures))?.filter((i) => ids.includes(i.id));
    if (list) {
      if (list.filter((i) => i.connectionStatus === 'CONNECTED').length === ids.length) return;
      if (Date.now() - reportedAt > 10_000) {
        reportedAt = Date.now();
        onProgress(`linking: ${statusCounts(list)}`);
      }
      for (const i of list) {
        if (i.connectionStatus !== 'QR_REQUIRED' || Date.now() - (scannedAt.get(i.id) ?? 0) < RESCAN_AFTER_MS) continue;
        scannedAt.set(i.id, Date.now());
        // A worker restarting under the scan answers an error: tried again after RESCAN_AFTER_MS.
        await api.demo(i.id, 'scan').catch((err: unknown) => onProgress(`scan of ${i.id}: ${describeError(err)}`));
      }
      if (Date.now() > deadline) throw new Error(`not every instance CONNECTED within ${timeoutMs / 1000} s of the creations (${statusCounts(list)})`);
    }
    await sleep(POLL_MS);
  }
}

/** One status change as the supervisor recorded it in `instance_events`. */
export interface StatusChange {
  instanceId: string;
  to: string;
  at: number;
}

/**
 * Every status change recorded at or after `since` (epoch ms), in order: the journal writes each
 * one, so a QR shown between two polls of the list is still found here.
 */
export async function statusChangesSince(pool: Pool, since: number): Promise<StatusChange[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT instance_id, to_status, occurred_at FROM instance_events WHERE to_status IS NOT NULL AND occurred_at >= ? ORDER BY id',
    [new Date(since)],
  );
  return rows.map((r) => ({ instanceId: String(r.instance_id), to: String(r.to_status), at: (r.occurred_at as Date).getTime() }));
}

/**
 * Waits until every one of `ids` has a CONNECTED recorded at or after `since`, or until
 * `deadline` (epoch ms); gives every change since. Read from the database, not the list: right
 * after a boot the list may still show the status the killed supervisor last recorded.
 */
export async function waitConnectedSince(pool: Pool, ids: readonly string[], since: number, deadline: number, onProgress: (line: string) => void): Promise<StatusChange[]> {
  let reportedAt = Date.now();
  for (;;) {
    const changes = await statusChangesSince(pool, since);
    const connected = new Set(changes.filter((c) => c.to === 'CONNECTED').map((c) => c.instanceId));
    if (ids.every((id) => connected.has(id)) || Date.now() > deadline) return changes;
    if (Date.now() - reportedAt > 10_000) {
      reportedAt = Date.now();
      const last = new Map(changes.map((c) => [c.instanceId, c.to]));
      onProgress(`boot: ${connected.size}/${ids.length} CONNECTED; the others ${statusCounts(ids.filter((id) => !connected.has(id)).map((id) => ({ connectionStatus: last.get(id) ?? 'nothing recorded yet' })))}`);
    }
    await sleep(POLL_MS);
  }
}
