import { ConnectionStatus, Health } from '../domain/instance.js';
import { TRANSITIONAL_STATUSES } from '../supervisor/state-machine.js';

/** What the checks know about one instance at `now`; plain data, so the verdict is a pure function. */
export interface VerdictInput {
  /** False when the instance has no row (deleted, or a typo in an API call). */
  exists: boolean;
  enabled: boolean;
  status: ConnectionStatus;
  /** When `status` was entered, ms epoch. */
  statusSince: number;
  now: number;
  /** A worker process is running or being started for the instance. */
  workerAlive: boolean;
  /** A reason that forbids reconnecting (LOGOUT, BANNED, …), or null. */
  blockedBy: string | null;
  /** Pings in a row that timed out or threw; the caller resets it on a successful ping. */
  consecutivePingFailures: number;
  /** The latest ping; `state` is the WhatsApp socket state the page reported (null: not read). */
  lastPing?: { ok: boolean; state: string | null; at: number };
  /** Ms epochs of recent errors (page errors, failed evaluations, auth failures, crashes). */
  errorTimes: number[];
  /** The latest deep check of the page. */
  deep?: { storePresent: boolean; socketState: string | null; at: number };
  /** Recoveries in a row that did not bring the instance back; the caller resets it on CONNECTED. */
  recoveryFailures: number;
  /**
   * When the pending reconnect fires, ms epoch, or null/absent when none is pending. A RECONNECTING
   * instance waits out its backoff delay (up to minutes) in that status: its stuck clock starts
   * when the reconnect is due, not when the status was entered, or every long backoff would be
   * "recovered" early, defeating the backoff.
   */
  nextReconnectAt?: number | null;
  /** Waiting for its turn in the boot queue (a RECONNECTING that no timer will start: the boot will). */
  bootQueued?: boolean;
  /** Its start waits at the fleet's start gate (memory, launch concurrency): no worker yet, none missing. */
  admissionWaiting?: boolean;
}

export interface VerdictRules {
  /** STUCK_STATE_TIMEOUT_MS: a transitional status held longer than this is stuck. */
  stuckAfterMs: number;
  /** ZOMBIE_PING_FAILURES: consecutive failed pings while CONNECTED that make a zombie. */
  zombiePingFailures: number;
  /** ERROR_BUDGET_COUNT / ERROR_BUDGET_WINDOW_MS: MORE than `count` errors in the window is degraded. */
  errorBudget: { count: number; windowMs: number };
  /** MAX_RECOVERY_ATTEMPTS: failed recoveries that make an instance corrupted. */
  maxRecoveryAttempts: number;
}

export interface Verdict {
  health: Health;
  /** Short snake_case, with a number where useful: `stuck_in_LOADING_45s`, `ping_failed_3x`. */
  reason: string;
}

const { CONNECTED, DISCONNECTED, RECONNECTING, QR_REQUIRED, AUTH_FAILURE } = ConnectionStatus;
const NEEDS_RECOVERY: ReadonlySet<Health> = new Set<Health>([Health.DEGRADED, Health.STUCK, Health.ZOMBIE]);

/** The verdicts the recovery ladder acts on; `corrupted` goes straight to cleanup instead. */
export function needsRecovery(health: Health): boolean {
  return NEEDS_RECOVERY.has(health);
}

function requireRules(rules: VerdictRules): void {
  const fields: [string, number][] = [
    ['stuckAfterMs', rules.stuckAfterMs],
    ['zombiePingFailures', rules.zombiePingFailures],
    ['errorBudget.count', rules.errorBudget.count],
    ['errorBudget.windowMs', rules.errorBudget.windowMs],
    ['maxRecoveryAttempts', rules.maxRecoveryAttempts],
  ];
  for (const [name, value] of fields) {
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`healthVerdict: rules.${name} must be a finite number >= 0, got ${value}`);
    }
  }
}

/** Free text (a disconnect reason, a socket state) made safe for a snake_case reason. */
function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'unknown';
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/**
 * The socket state from the newest successful observation (ping or deep check) made since the
 * current status began; one made before says nothing about now (e.g. a TIMEOUT seen before the
 * last reconnect). Null when there is none, or the page did not say.
 */
function currentSocketState(input: VerdictInput): string | null {
  const seen: { state: string | null; at: number }[] = [];
  if (input.lastPing?.ok) seen.push(input.lastPing);
  if (input.deep) seen.push({ state: input.deep.socketState, at: input.deep.at });
  const fresh = seen.filter((o) => o.at >= input.statusSince && o.state !== null);
  if (fresh.length === 0) return null;
  return fresh.reduce((newest, o) => (o.at > newest.at ? o : newest)).state;
}

/** Errors in the window, not counting any before `since` (ms epoch). */
function errorsInWindow(input: VerdictInput, windowMs: number, since: number): number {
  const from = Math.max(input.now - windowMs, since);
  return input.errorTimes.filter((t) => t >= from && t <= input.now).length;
}

/** The verdict for a CONNECTED instance (rules 8–12 below). */
function connectedVerdict(input: VerdictInput, rules: VerdictRules): Verdict {
  const failures = input.consecutivePingFailures;
  if (!input.workerAlive) return { health: Health.ZOMBIE, reason: 'connected_without_worker' };
  if (failures >= rules.zombiePingFailures) return { health: Health.ZOMBIE, reason: `ping_failed_${failures}x` };
  const socket = currentSocketState(input);
  if (socket !== null && socket !== CONNECTED) return { health: Health.DEGRADED, reason: `socket_${slug(socket)}` };
  if (input.deep && input.deep.at >= input.statusSince && !input.deep.storePresent) {
    return { health: Health.DEGRADED, reason: 'store_missing' };
  }
  if (failures > 0) return { health: Health.DEGRADED, reason: `ping_failed_${failures}x` };
  // Only this connection's errors: the crashes that led to it (or the storm a recovery restart
  // answered) were remedied by the restart; counting them again restarts it again, every check,
  // until they age out of the window.
  return errorBudgetVerdict(input, rules, input.statusSince) ?? { health: Health.HEALTHY, reason: 'connected' };
}

function errorBudgetVerdict(input: VerdictInput, rules: VerdictRules, since = -Infinity): Verdict | null {
  const errors = errorsInWindow(input, rules.errorBudget.windowMs, since);
  if (errors <= rules.errorBudget.count) return null;
  return { health: Health.DEGRADED, reason: `errors_${errors}_in_${seconds(rules.errorBudget.windowMs)}s` };
}

/**
 * The health of one instance. The first rule that matches wins:
 *
 *  1. no row                                              → not_found
 *  2. disabled                                            → disconnected `disabled`
 *  3. blocked by a no-reconnect reason, or AUTH_FAILURE   → disconnected `blocked_<reason>` / `auth_failure`
 *  4. recoveryFailures >= maxRecoveryAttempts             → corrupted `recovery_failed_<n>x`
 *  5. QR_REQUIRED                                         → disconnected `qr_required`
 *  6. a start waiting at the start gate (any status
 *     but CONNECTED)                                      → disconnected `waiting_for_admission`
 *     RECONNECTING, waiting in the boot queue             → disconnected `boot_queued`
 *     INITIALIZING / LOADING / RECONNECTING held longer
 *     than stuckAfterMs (RECONNECTING: counted from when
 *     its pending reconnect is due)                       → stuck `stuck_in_<STATUS>_<s>s`
 *  7. RECONNECTING, DISCONNECTED (waiting for the reconnect
 *     timer or the recovery loop to start a worker)       → disconnected
 *  CONNECTED:
 *  8. no live worker (the row says connected, nothing runs) → zombie `connected_without_worker`
 *  9. consecutivePingFailures >= zombiePingFailures      → zombie `ping_failed_<n>x`
 * 10. the page's socket state is not CONNECTED            → degraded `socket_<STATE>`
 *     a deep check says the Store is missing              → degraded `store_missing`
 *     1..zombiePingFailures-1 ping failures               → degraded `ping_failed_<n>x`
 * 11. more than errorBudget.count errors in the window,
 *     since the instance became CONNECTED                → degraded `errors_<n>_in_<s>s`
 * 12. otherwise                                           → healthy `connected`
 *  INITIALIZING / LOADING within the timeout: the error budget (11), else disconnected `starting_<STATUS>_<s>s`.
 *
 * Why this order, where it differs from the list:
 *  - disabled and blocked come before corrupted: both mean a human owns the instance now, and a
 *    corrupted verdict leads to an automatic cleanup (auth data wiped) that must not happen behind
 *    the operator's back; a LOGOUT also explains the failed recoveries better than "corrupted".
 *  - corrupted comes before QR_REQUIRED, so the instance still reads corrupted after its cleanup
 *    left it in QR_REQUIRED, until a CONNECTED resets the failure count.
 *  - among the degraded causes, the most direct evidence names the reason (the page saying it is
 *    not connected, then the Store gone, then unanswered pings); the error budget is indirect, so
 *    it is named only when nothing more specific is wrong. The verdict is the same either way.
 *  - ping and deep observations made before the current status began are ignored: they describe
 *    an earlier connection.
 */
export function healthVerdict(input: VerdictInput, rules: VerdictRules): Verdict {
  requireRules(rules);
  if (!input.exists) return { health: Health.NOT_FOUND, reason: 'not_found' };
  if (!input.enabled) return { health: Health.DISCONNECTED, reason: 'disabled' };
  if (input.blockedBy !== null) return { health: Health.DISCONNECTED, reason: `blocked_${slug(input.blockedBy)}` };
  if (input.status === AUTH_FAILURE) return { health: Health.DISCONNECTED, reason: 'auth_failure' };
  if (input.recoveryFailures >= rules.maxRecoveryAttempts) {
    return { health: Health.CORRUPTED, reason: `recovery_failed_${input.recoveryFailures}x` };
  }
  if (input.status === QR_REQUIRED) return { health: Health.DISCONNECTED, reason: 'qr_required' };

  // A long boot queue (hundreds of instances, REHYDRATE_CONCURRENCY at a time) is waited out,
  // like a long backoff: restarting a queued instance early is the burst the queue prevents.
  if (input.status === RECONNECTING && input.bootQueued) return { health: Health.DISCONNECTED, reason: 'boot_queued' };
  // Likewise a start waiting for memory or a launch slot: recovering it would only queue it again.
  if (input.admissionWaiting && input.status !== CONNECTED) return { health: Health.DISCONNECTED, reason: 'waiting_for_admission' };
  const reconnectDue = input.status === RECONNECTING ? (input.nextReconnectAt ?? null) : null;
  const heldMs = Math.max(0, input.now - Math.max(input.statusSince, reconnectDue ?? -Infinity));
  if (TRANSITIONAL_STATUSES.includes(input.status) && heldMs > rules.stuckAfterMs) {
    return { health: Health.STUCK, reason: `stuck_in_${input.status}_${seconds(heldMs)}s` };
  }
  if (input.status === RECONNECTING) {
    if (reconnectDue !== null && reconnectDue > input.now) {
      return { health: Health.DISCONNECTED, reason: `reconnect_in_${seconds(reconnectDue - input.now)}s` };
    }
    return { health: Health.DISCONNECTED, reason: `reconnecting_${seconds(heldMs)}s` };
  }
  if (input.status === DISCONNECTED) {
    return { health: Health.DISCONNECTED, reason: input.workerAlive ? 'disconnected' : 'awaiting_start' };
  }
  if (input.status === CONNECTED) return connectedVerdict(input, rules);
  // INITIALIZING or LOADING, still within the timeout: starting, unless it is erroring a lot.
  return errorBudgetVerdict(input, rules) ?? { health: Health.DISCONNECTED, reason: `starting_${input.status}_${seconds(heldMs)}s` };
}
