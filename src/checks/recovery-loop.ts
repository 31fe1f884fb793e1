import { ConnectionStatus } from '../domain/instance.js';
import type { InstanceHandle } from '../supervisor/instance/handle.js';
import { forEachInstance, type CheckContext } from './context.js';

/** A live status younger than this may still be on its way to the database: not a discrepancy yet. */
const SETTLE_MS = 2_000;

export interface RecoveryTickResult {
  started: string[];
  reconciled: string[];
}

/**
 * Whether the recovery loop should start the instance: enabled, no worker running or starting,
 * not blocked by a no-reconnect reason (LOGOUT, BANNED…), not in the middle of handling its own
 * crash (its reconnect is about to be scheduled), not waiting out a reconnect backoff or
 * its turn in the boot queue (starting it here would defeat REHYDRATE_CONCURRENCY),
 * and not idling in QR_REQUIRED (a worker stopped after a QR wait comes back when the QR is asked for).
 */
export function dueForStart(handle: Pick<InstanceHandle, 'hasWorker' | 'live'>, enabled: boolean, now: number): boolean {
  const live = handle.live;
  if (!enabled || handle.hasWorker || live.blockedBy !== null || live.bootQueued || live.handlingCrash) return false;
  if (live.nextReconnectAt !== null && live.nextReconnectAt.getTime() > now) return false;
  return live.status !== ConnectionStatus.QR_REQUIRED;
}

/**
 * The recovery loop's tick: what events missed. Enabled instances without a worker are started,
 * and a row whose status disagrees with the live one is corrected (the discrepancy recorded).
 * Its starts go through the fleet's start gate like any other (memory, launch concurrency); a
 * start that waits there keeps its place and the tick goes on.
 */
export class RecoveryCheck {
  constructor(private readonly ctx: CheckContext) {}

  async tick(signal: AbortSignal): Promise<RecoveryTickResult> {
    const { fleet, settings, log } = this.ctx;
    const readAt = Date.now();
    // A start or stop after this (a disable among them) makes the row read below stale for that
    // instance: it is left to the next tick, which reads it again.
    const generations = new Map(fleet.list().map((h) => [h.id, h.generation]));
    const read = await fleet.rows();
    // With the database away there is nothing to reconcile against, and the enabled flags are unknown.
    if (read === null) return { started: [], reconciled: [] };
    const rows = new Map(read.map((r) => [r.id, r]));
    const result: RecoveryTickResult = { started: [], reconciled: [] };
    await forEachInstance(fleet.list(), settings.concurrency, log, async (handle) => {
      const row = rows.get(handle.id);
      if (!row || signal.aborted || this.ctx.busy(handle.id)) return;
      const live = handle.live;
      if (row.connectionStatus !== live.status && readAt - live.statusChangedAt.getTime() > SETTLE_MS) {
        if (await fleet.reconcile(handle.id, row.connectionStatus)) {
          result.reconciled.push(handle.id);
          log.warn(`database said ${row.connectionStatus}, live status is ${live.status}: row corrected`, { instanceId: handle.id });
        }
      }
      if (generations.get(handle.id) === handle.generation && dueForStart(handle, row.enabled, Date.now())) {
        result.started.push(handle.id);
        log.info('enabled without a worker: starting', { instanceId: handle.id, status: live.status, reason: live.reason });
        await handle.requestStart('recovery');
      }
    });
    return result;
  }
}
