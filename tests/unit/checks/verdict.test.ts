import { describe, expect, it } from 'vitest';
import { healthVerdict, needsRecovery, type VerdictInput, type VerdictRules } from '../../../src/checks/verdict.js';
import { CONNECTION_STATUSES, ConnectionStatus, Health } from '../../../src/domain/instance.js';

const { INITIALIZING, LOADING, QR_REQUIRED, CONNECTED, DISCONNECTED, RECONNECTING, AUTH_FAILURE } = ConnectionStatus;
const NOW = Date.UTC(2025, 0, 1, 12);
const S = 1000;
const MIN = 60 * S;

/** The defaults: STUCK_STATE_TIMEOUT_MS, ZOMBIE_PING_FAILURES, ERROR_BUDGET_*, MAX_RECOVERY_ATTEMPTS. */
const rules: VerdictRules = { stuckAfterMs: 30 * S, zombiePingFailures: 3, errorBudget: { count: 5, windowMs: 5 * MIN }, maxRecoveryAttempts: 3 };

/** A healthy instance: CONNECTED for 10 minutes, worker alive, last ping a second ago said CONNECTED. */
const base: VerdictInput = {
  exists: true,
  enabled: true,
  status: CONNECTED,
  statusSince: NOW - 10 * MIN,
  now: NOW,
  workerAlive: true,
  blockedBy: null,
  consecutivePingFailures: 0,
  lastPing: { ok: true, state: 'CONNECTED', at: NOW - S },
  errorTimes: [],
  recoveryFailures: 0,
};

/** n error timestamps spread over the last minute, all inside the 5-minute window. */
function errors(n: number): number[] {
  return Array.from({ length: n }, (_, i) => NOW - i * S);
}

/** `status` entered `heldMs` before NOW. */
function held(status: ConnectionStatus, heldMs: number): Partial<VerdictInput> {
  return { status, statusSince: NOW - heldMs };
}

interface Case {
  name: string;
  input: Partial<VerdictInput>;
  health: Health;
  reason: string;
}

const CASES: Case[] = [
  // healthy
  { name: 'CONNECTED, pinged fine, no errors', input: {}, health: Health.HEALTHY, reason: 'connected' },
  { name: 'CONNECTED and not pinged yet', input: { lastPing: undefined }, health: Health.HEALTHY, reason: 'connected' },
  { name: 'CONNECTED, the page did not report a socket state', input: { lastPing: { ok: true, state: null, at: NOW - S } }, health: Health.HEALTHY, reason: 'connected' },

  // not_found
  { name: 'no row', input: { exists: false }, health: Health.NOT_FOUND, reason: 'not_found' },
  { name: 'no row wins over everything else', input: { exists: false, enabled: false, recoveryFailures: 9, ...held(LOADING, 5 * MIN) }, health: Health.NOT_FOUND, reason: 'not_found' },

  // corrupted
  { name: 'recovery failed exactly maxRecoveryAttempts times', input: { recoveryFailures: 3 }, health: Health.CORRUPTED, reason: 'recovery_failed_3x' },
  { name: 'recovery failed one time under the max', input: { recoveryFailures: 2 }, health: Health.HEALTHY, reason: 'connected' },
  { name: 'recovery failed more than the max', input: { recoveryFailures: 4 }, health: Health.CORRUPTED, reason: 'recovery_failed_4x' },
  { name: 'corrupted wins over zombie', input: { recoveryFailures: 3, consecutivePingFailures: 5 }, health: Health.CORRUPTED, reason: 'recovery_failed_3x' },
  { name: 'corrupted wins over stuck', input: { recoveryFailures: 3, ...held(LOADING, 5 * MIN) }, health: Health.CORRUPTED, reason: 'recovery_failed_3x' },
  { name: 'corrupted still after the cleanup left it in QR_REQUIRED', input: { recoveryFailures: 3, ...held(QR_REQUIRED, MIN) }, health: Health.CORRUPTED, reason: 'recovery_failed_3x' },

  // disconnected: disabled, blocked, waiting for a QR
  { name: 'disabled', input: { enabled: false, ...held(DISCONNECTED, MIN), workerAlive: false }, health: Health.DISCONNECTED, reason: 'disabled' },
  { name: 'disabled wins over corrupted: no cleanup behind the operator\'s back', input: { enabled: false, recoveryFailures: 3 }, health: Health.DISCONNECTED, reason: 'disabled' },
  { name: 'disabled wins over stuck', input: { enabled: false, ...held(LOADING, 5 * MIN) }, health: Health.DISCONNECTED, reason: 'disabled' },
  { name: 'blocked by LOGOUT', input: { blockedBy: 'LOGOUT', ...held(DISCONNECTED, MIN), workerAlive: false }, health: Health.DISCONNECTED, reason: 'blocked_LOGOUT' },
  { name: 'blocked wins over corrupted: the LOGOUT explains the failures', input: { blockedBy: 'BANNED', recoveryFailures: 3, ...held(DISCONNECTED, MIN) }, health: Health.DISCONNECTED, reason: 'blocked_BANNED' },
  { name: 'a free-text block reason is made snake_case', input: { blockedBy: 'status 401: unauthorized', ...held(DISCONNECTED, MIN) }, health: Health.DISCONNECTED, reason: 'blocked_status_401_unauthorized' },
  { name: 'AUTH_FAILURE waits for a human', input: { ...held(AUTH_FAILURE, 10 * MIN), workerAlive: false }, health: Health.DISCONNECTED, reason: 'auth_failure' },
  { name: 'QR_REQUIRED is never stuck however long it waits', input: { ...held(QR_REQUIRED, 60 * MIN) }, health: Health.DISCONNECTED, reason: 'qr_required' },
  { name: 'QR_REQUIRED ignores the error budget', input: { ...held(QR_REQUIRED, MIN), errorTimes: errors(10) }, health: Health.DISCONNECTED, reason: 'qr_required' },

  // stuck: the timeout boundary
  { name: 'LOADING one ms under the timeout', input: held(LOADING, 30 * S - 1), health: Health.DISCONNECTED, reason: 'starting_LOADING_29s' },
  { name: 'LOADING exactly at the timeout is not yet past it', input: held(LOADING, 30 * S), health: Health.DISCONNECTED, reason: 'starting_LOADING_30s' },
  { name: 'LOADING one ms past the timeout', input: held(LOADING, 30 * S + 1), health: Health.STUCK, reason: 'stuck_in_LOADING_30s' },
  { name: 'LOADING for 45 s', input: held(LOADING, 45 * S), health: Health.STUCK, reason: 'stuck_in_LOADING_45s' },
  { name: 'INITIALIZING past the timeout', input: held(INITIALIZING, 31 * S), health: Health.STUCK, reason: 'stuck_in_INITIALIZING_31s' },
  { name: 'INITIALIZING just started', input: held(INITIALIZING, 2 * S), health: Health.DISCONNECTED, reason: 'starting_INITIALIZING_2s' },
  { name: 'a status change stamped in the future counts as just entered', input: { status: LOADING, statusSince: NOW + 5 * S }, health: Health.DISCONNECTED, reason: 'starting_LOADING_0s' },
  { name: 'stuck wins over the error budget', input: { ...held(LOADING, 45 * S), errorTimes: errors(10) }, health: Health.STUCK, reason: 'stuck_in_LOADING_45s' },

  // RECONNECTING: stuck only once its pending reconnect is overdue
  { name: 'RECONNECTING with no pending reconnect, within the timeout', input: held(RECONNECTING, 10 * S), health: Health.DISCONNECTED, reason: 'reconnecting_10s' },
  { name: 'RECONNECTING with no pending reconnect, past the timeout', input: held(RECONNECTING, 31 * S), health: Health.STUCK, reason: 'stuck_in_RECONNECTING_31s' },
  { name: 'RECONNECTING for 2 min through a long backoff, due in 60 s', input: { ...held(RECONNECTING, 2 * MIN), nextReconnectAt: NOW + MIN }, health: Health.DISCONNECTED, reason: 'reconnect_in_60s' },
  { name: 'RECONNECTING whose reconnect was due 20 s ago', input: { ...held(RECONNECTING, 5 * MIN), nextReconnectAt: NOW - 20 * S }, health: Health.DISCONNECTED, reason: 'reconnecting_20s' },
  { name: 'RECONNECTING whose reconnect was due 31 s ago', input: { ...held(RECONNECTING, 5 * MIN), nextReconnectAt: NOW - 31 * S }, health: Health.STUCK, reason: 'stuck_in_RECONNECTING_31s' },
  // Found by the chaos run (the recovery loop started queued instances); a long queue is not stuck.
  { name: 'RECONNECTING for 5 min in the boot queue is not stuck', input: { ...held(RECONNECTING, 5 * MIN), bootQueued: true }, health: Health.DISCONNECTED, reason: 'boot_queued' },
  { name: 'RECONNECTING past the timeout, out of the boot queue, is stuck', input: { ...held(RECONNECTING, 31 * S), bootQueued: false }, health: Health.STUCK, reason: 'stuck_in_RECONNECTING_31s' },
  { name: 'RECONNECTING for 5 min waiting at the start gate is not stuck', input: { ...held(RECONNECTING, 5 * MIN), admissionWaiting: true }, health: Health.DISCONNECTED, reason: 'waiting_for_admission' },
  { name: 'DISCONNECTED waiting at the start gate', input: { ...held(DISCONNECTED, 5 * MIN), admissionWaiting: true }, health: Health.DISCONNECTED, reason: 'waiting_for_admission' },
  { name: 'RECONNECTING with nextReconnectAt null is timed from the status', input: { ...held(RECONNECTING, 40 * S), nextReconnectAt: null }, health: Health.STUCK, reason: 'stuck_in_RECONNECTING_40s' },

  // DISCONNECTED: the recovery loop will start it
  { name: 'enabled, DISCONNECTED, no worker, not blocked', input: { ...held(DISCONNECTED, 10 * S), workerAlive: false }, health: Health.DISCONNECTED, reason: 'awaiting_start' },
  { name: 'DISCONNECTED for an hour is not stuck', input: { ...held(DISCONNECTED, 60 * MIN), workerAlive: false }, health: Health.DISCONNECTED, reason: 'awaiting_start' },
  { name: 'DISCONNECTED while the old worker is still stopping', input: held(DISCONNECTED, S), health: Health.DISCONNECTED, reason: 'disconnected' },
  { name: 'DISCONNECTED ignores the error budget: the reconnect policy owns crash loops', input: { ...held(DISCONNECTED, S), workerAlive: false, errorTimes: errors(10) }, health: Health.DISCONNECTED, reason: 'awaiting_start' },

  // zombie
  { name: 'CONNECTED in the DB but no worker runs', input: { workerAlive: false }, health: Health.ZOMBIE, reason: 'connected_without_worker' },
  { name: 'no worker is named before the ping failures it causes', input: { workerAlive: false, consecutivePingFailures: 4 }, health: Health.ZOMBIE, reason: 'connected_without_worker' },
  { name: 'exactly zombiePingFailures failed pings', input: { consecutivePingFailures: 3, lastPing: { ok: false, state: null, at: NOW - S } }, health: Health.ZOMBIE, reason: 'ping_failed_3x' },
  { name: 'more failed pings than the threshold', input: { consecutivePingFailures: 7 }, health: Health.ZOMBIE, reason: 'ping_failed_7x' },
  { name: 'zombie wins over a degraded socket state', input: { consecutivePingFailures: 3, deep: { storePresent: true, socketState: 'TIMEOUT', at: NOW - MIN } }, health: Health.ZOMBIE, reason: 'ping_failed_3x' },

  // degraded
  { name: 'one failed ping', input: { consecutivePingFailures: 1, lastPing: { ok: false, state: null, at: NOW - S } }, health: Health.DEGRADED, reason: 'ping_failed_1x' },
  { name: 'two failed pings, one under the zombie threshold', input: { consecutivePingFailures: 2 }, health: Health.DEGRADED, reason: 'ping_failed_2x' },
  { name: 'the page reports socket TIMEOUT', input: { lastPing: { ok: true, state: 'TIMEOUT', at: NOW - S } }, health: Health.DEGRADED, reason: 'socket_TIMEOUT' },
  { name: 'the page reports socket OPENING', input: { lastPing: { ok: true, state: 'OPENING', at: NOW - S } }, health: Health.DEGRADED, reason: 'socket_OPENING' },
  { name: 'a TIMEOUT seen before the current CONNECTED began is ignored', input: { lastPing: { ok: true, state: 'TIMEOUT', at: NOW - 11 * MIN } }, health: Health.HEALTHY, reason: 'connected' },
  { name: 'a newer deep check overrides an older ping\'s socket state', input: { deep: { storePresent: true, socketState: 'OPENING', at: NOW } }, health: Health.DEGRADED, reason: 'socket_OPENING' },
  { name: 'a newer ping overrides an older deep check\'s socket state', input: { deep: { storePresent: true, socketState: 'TIMEOUT', at: NOW - MIN } }, health: Health.HEALTHY, reason: 'connected' },
  { name: 'the deep check finds no Store', input: { deep: { storePresent: false, socketState: null, at: NOW - MIN } }, health: Health.DEGRADED, reason: 'store_missing' },
  { name: 'a missing Store seen before the current CONNECTED began is ignored', input: { deep: { storePresent: false, socketState: null, at: NOW - 11 * MIN } }, health: Health.HEALTHY, reason: 'connected' },
  { name: 'the socket state is named before a missing Store', input: { lastPing: { ok: true, state: 'TIMEOUT', at: NOW - S }, deep: { storePresent: false, socketState: null, at: NOW - MIN } }, health: Health.DEGRADED, reason: 'socket_TIMEOUT' },
  { name: 'a missing Store is named before a failed ping', input: { consecutivePingFailures: 1, deep: { storePresent: false, socketState: null, at: NOW - MIN } }, health: Health.DEGRADED, reason: 'store_missing' },

  // degraded: the error budget boundary
  { name: 'errors one under the budget', input: { errorTimes: errors(4) }, health: Health.HEALTHY, reason: 'connected' },
  { name: 'errors exactly at the budget', input: { errorTimes: errors(5) }, health: Health.HEALTHY, reason: 'connected' },
  { name: 'errors one over the budget', input: { errorTimes: errors(6) }, health: Health.DEGRADED, reason: 'errors_6_in_300s' },
  { name: 'an error exactly windowMs old still counts', input: { errorTimes: [...errors(5), NOW - 5 * MIN] }, health: Health.DEGRADED, reason: 'errors_6_in_300s' },
  { name: 'an error one ms older than the window does not count', input: { errorTimes: [...errors(5), NOW - 5 * MIN - 1] }, health: Health.HEALTHY, reason: 'connected' },
  { name: 'old errors do not count', input: { errorTimes: Array.from({ length: 20 }, (_, i) => NOW - 10 * MIN - i * S) }, health: Health.HEALTHY, reason: 'connected' },
  // Found by the chaos run: the errors of the crashes before this connection kept it degraded, and
  // every check restarted it again until they aged out of the window.
  { name: 'errors from before the current connection do not count', input: { ...held(CONNECTED, 10 * S), errorTimes: [...errors(3), NOW - 20 * S, NOW - 30 * S, NOW - 40 * S, NOW - 50 * S] }, health: Health.HEALTHY, reason: 'connected' },
  { name: 'errors of the current connection alone can exceed the budget', input: { ...held(CONNECTED, 10 * S), errorTimes: [NOW, NOW - S, NOW - 2 * S, NOW - 3 * S, NOW - 4 * S, NOW - 5 * S] }, health: Health.DEGRADED, reason: 'errors_6_in_300s' },
  { name: 'an error at the very moment of connecting counts', input: { ...held(CONNECTED, 10 * S), errorTimes: [...errors(5), NOW - 10 * S] }, health: Health.DEGRADED, reason: 'errors_6_in_300s' },
  { name: 'a failed ping is named before the error budget', input: { consecutivePingFailures: 1, errorTimes: errors(7) }, health: Health.DEGRADED, reason: 'ping_failed_1x' },
  { name: 'LOADING within the timeout but over the error budget', input: { ...held(LOADING, 10 * S), errorTimes: errors(6) }, health: Health.DEGRADED, reason: 'errors_6_in_300s' },
];

describe('healthVerdict: the table', () => {
  it('has at least 30 cases with unique names', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  it('covers every health value and every connection status', () => {
    const verdicts = new Set(CASES.map((c) => c.health));
    expect([...verdicts].sort()).toEqual(Object.values(Health).sort());
    const statuses = new Set(CASES.map((c) => c.input.status ?? base.status));
    expect([...statuses].sort()).toEqual([...CONNECTION_STATUSES].sort());
  });

  it.each(CASES)('$name → $health ($reason)', ({ input, health, reason }) => {
    expect(healthVerdict({ ...base, ...input }, rules)).toEqual({ health, reason });
  });
});

describe('healthVerdict: rules', () => {
  it('follows the configured thresholds, not built-in ones', () => {
    const strict: VerdictRules = { stuckAfterMs: 5 * S, zombiePingFailures: 1, errorBudget: { count: 0, windowMs: MIN }, maxRecoveryAttempts: 1 };
    expect(healthVerdict({ ...base, ...held(LOADING, 6 * S) }, strict)).toEqual({ health: Health.STUCK, reason: 'stuck_in_LOADING_6s' });
    expect(healthVerdict({ ...base, consecutivePingFailures: 1 }, strict)).toEqual({ health: Health.ZOMBIE, reason: 'ping_failed_1x' });
    expect(healthVerdict({ ...base, errorTimes: [NOW] }, strict)).toEqual({ health: Health.DEGRADED, reason: 'errors_1_in_60s' });
    expect(healthVerdict({ ...base, recoveryFailures: 1 }, strict)).toEqual({ health: Health.CORRUPTED, reason: 'recovery_failed_1x' });
  });

  it('rejects a negative or non-finite rule, naming it', () => {
    expect(() => healthVerdict(base, { ...rules, stuckAfterMs: -1 })).toThrow(/rules\.stuckAfterMs/);
    expect(() => healthVerdict(base, { ...rules, errorBudget: { count: 5, windowMs: NaN } })).toThrow(/rules\.errorBudget\.windowMs/);
  });

  it('does not modify its input', () => {
    const input: VerdictInput = { ...base, errorTimes: errors(6), deep: { storePresent: false, socketState: 'TIMEOUT', at: NOW } };
    const copy = structuredClone(input);
    healthVerdict(input, rules);
    expect(input).toEqual(copy);
  });
});

describe('needsRecovery', () => {
  it.each([
    [Health.DEGRADED, true],
    [Health.STUCK, true],
    [Health.ZOMBIE, true],
    [Health.HEALTHY, false],
    [Health.DISCONNECTED, false],
    [Health.CORRUPTED, false],
    [Health.NOT_FOUND, false],
  ] as const)('%s → %s', (health, expected) => {
    expect(needsRecovery(health)).toBe(expected);
  });
});
