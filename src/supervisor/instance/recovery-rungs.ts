import { WorkerNotRunningError } from '../../errors/index.js';
import { Category } from '../../logger/index.js';
import { Health } from '../../domain/instance.js';
import { LifecycleEvent } from '../state-machine.js';
import type { StatusCore } from './status.js';
import type { WorkerSlot } from './worker-slot.js';

/** What a rung needs of the instance it acts on. */
export interface RungTarget {
  readonly id: string;
  readonly slot: WorkerSlot;
  readonly core: StatusCore;
  readonly stopTimeoutMs: number;
  /** Clears the reconnect and QR idle timers. */
  clearTimers(): void;
  /** Marks the instance as stopping on purpose (its worker's exit is no crash) and clears its timers. */
  quiesce(): void;
  start(trigger: string): Promise<void>;
  /** The saved session is gone: the linked phone's facts go with it. */
  forgetPhone(): void;
}

/**
 * Soft restart, the ladder's first rung: the worker destroys its client and initializes it again
 * in the same process on the same profile. The status goes RECONNECTING → INITIALIZING here,
 * then follows the worker's events (LOADING, CONNECTED or QR_REQUIRED). Throws when no worker
 * runs, or when the worker's restart fails or does not answer within `timeoutMs`.
 */
export async function softRestart(t: RungTarget, reason: string, timeoutMs: number): Promise<void> {
  const worker = t.slot.current;
  if (!worker) throw new WorkerNotRunningError(t.id);
  t.clearTimers();
  await t.core.move(LifecycleEvent.RECONNECT_SCHEDULED, reason, { category: Category.HEALTH });
  await t.core.move(LifecycleEvent.START, reason, { category: Category.HEALTH });
  await worker.restart(t.stopTimeoutMs, timeoutMs);
}

/**
 * Hard restart, the second rung: the worker's process groups are SIGKILLed (the worker is the
 * suspect, so it is not asked to clean up), `reap` kills the profile's stray browsers and removes
 * its stale locks, and a new worker is started. A start in progress is abandoned the same way.
 * Nothing is started if the instance was stopped meanwhile (a shutdown).
 */
export async function hardRestart(t: RungTarget, reason: string, reap: () => Promise<unknown>): Promise<void> {
  t.quiesce();
  const generation = await t.slot.abandon(reap);
  if (!t.slot.isCurrent(generation)) return;
  await t.core.move(LifecycleEvent.RECONNECT_SCHEDULED, reason, { category: Category.HEALTH });
  await t.start(reason);
}

/**
 * Cleanup, the last rung: the worker is killed as in a hard restart, `wipe` deletes the saved
 * session (the phone must link again), the health is set `corrupted` with a HIGH notice, and a
 * fresh worker is started to show a new QR: the status reaches QR_REQUIRED through its events.
 */
export async function cleanup(t: RungTarget, reason: string, reap: () => Promise<unknown>, wipe: () => void | Promise<void>): Promise<void> {
  t.quiesce();
  const generation = await t.slot.abandon(reap);
  if (!t.slot.isCurrent(generation)) return;
  await wipe();
  t.forgetPhone();
  await t.core.setHealth(Health.CORRUPTED, reason, 'HIGH');
  await t.core.move(LifecycleEvent.STOPPED, 'cleanup', {
    category: Category.HEALTH,
    severity: 'HIGH',
    patch: { wid: null, pushName: null, reconnectAttempts: 0 },
    data: { cause: reason },
  });
  if (!t.slot.isCurrent(generation)) return;
  await t.start('cleanup');
}
