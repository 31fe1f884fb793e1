import { describe, expect, it } from 'vitest';
import {
  NO_RECONNECT_REASONS,
  decideReconnect,
  isNoReconnectReason,
  reconnectSchedule,
  type ReconnectPolicy,
} from '../../../src/supervisor/reconnect-policy.js';

/** The defaults of RECONNECT_BASE_DELAY_MS, _MAX_DELAY_MS, _JITTER_MS and _MAX_ATTEMPTS. */
const policy: ReconnectPolicy = { baseMs: 2000, maxMs: 300_000, jitterMs: 1000, maxAttempts: 20, firstDelayMs: 0 };
const uncapped: ReconnectPolicy = { ...policy, maxAttempts: 1000 };
const lowest = () => 0;
const highest = () => 0.999;

// attempt → min(2000 * 1.5^attempt, 300000), then the delay (rounded to whole ms) with random() = 0
// and random() = 0.999 (+ 999 ms of jitter).
const FORMULA: [attempt: number, exact: number, atLowest: number, atHighest: number][] = [
  [0, 2000, 2000, 2999],
  [1, 3000, 3000, 3999],
  [2, 4500, 4500, 5499],
  [3, 6750, 6750, 7749],
  [4, 10125, 10125, 11124],
  [5, 15187.5, 15188, 16187],
  [6, 22781.25, 22781, 23780],
  [7, 34171.875, 34172, 35171],
  [8, 51257.8125, 51258, 52257],
  [9, 76886.71875, 76887, 77886],
  [10, 115330.078125, 115330, 116329],
  [11, 172995.1171875, 172995, 173994],
  [12, 259492.67578125, 259493, 260492],
  ...Array.from({ length: 13 }, (_, i): [number, number, number, number] => [13 + i, 300_000, 300_000, 300_999]),
];

describe('decideReconnect: the first reconnect of a steady connection', () => {
  const steady = { reason: 'worker_exit', attempt: 0, policy, connectedForMs: 10_000 };

  it('is at once (RECONNECT_FIRST_DELAY_MS, default 0), jitter or not, once the instance was CONNECTED 10 s or more', () => {
    expect(decideReconnect(steady, highest)).toEqual({ action: 'retry', attempt: 1, delayMs: 0 });
    expect(decideReconnect({ ...steady, connectedForMs: 3_600_000 }, highest)).toEqual({ action: 'retry', attempt: 1, delayMs: 0 });
    expect(decideReconnect({ ...steady, policy: { ...policy, firstDelayMs: 8_000 } }, highest)).toEqual({ action: 'retry', attempt: 1, delayMs: 8_000 });
  });

  it('keeps the formula for a connection shorter than 10 s, for an instance that was not CONNECTED, and from the second attempt', () => {
    expect(decideReconnect({ ...steady, connectedForMs: 9_999 }, lowest)).toEqual({ action: 'retry', attempt: 1, delayMs: 2_000 });
    expect(decideReconnect({ ...steady, connectedForMs: null }, lowest)).toEqual({ action: 'retry', attempt: 1, delayMs: 2_000 });
    expect(decideReconnect({ reason: 'worker_exit', attempt: 0, policy }, lowest)).toEqual({ action: 'retry', attempt: 1, delayMs: 2_000 });
    expect(decideReconnect({ ...steady, attempt: 1 }, lowest)).toEqual({ action: 'retry', attempt: 2, delayMs: 3_000 });
  });

  it('a crash loop after it (every start dies before CONNECTED) waits the seeds’ delays from the second attempt, up to the cap', () => {
    const delays = [decideReconnect(steady, lowest)];
    for (let attempt = 1; attempt < policy.maxAttempts + 1; attempt++) delays.push(decideReconnect({ reason: 'worker_exit', attempt, policy }, lowest));
    expect(delays.map((d) => (d.action === 'retry' ? d.delayMs : d.action))).toEqual([0, ...reconnectSchedule(policy, lowest).slice(1), 'give_up']);
  });

  it('still waits for a human after a reason that forbids reconnecting', () => {
    expect(decideReconnect({ ...steady, reason: 'LOGOUT' })).toEqual({ action: 'wait_for_human', reason: 'LOGOUT' });
  });
});

describe('decideReconnect: the delay formula', () => {
  it('the table covers attempts 0..25 and matches min(BASE * 1.5^attempt, MAX)', () => {
    expect(FORMULA.map(([attempt]) => attempt)).toEqual(Array.from({ length: 26 }, (_, i) => i));
    for (const [attempt, exact] of FORMULA) expect(Math.min(2000 * 1.5 ** attempt, 300_000)).toBe(exact);
  });

  it.each(FORMULA)('attempt %i (exact %d): waits %i ms with no jitter, %i ms with the most', (attempt, _exact, atLowest, atHighest) => {
    const input = { reason: 'worker_exit', attempt, policy: uncapped };
    expect(decideReconnect(input, lowest)).toEqual({ action: 'retry', attempt: attempt + 1, delayMs: atLowest });
    expect(decideReconnect(input, highest)).toEqual({ action: 'retry', attempt: attempt + 1, delayMs: atHighest });
  });

  it('stays within [capped, capped + JITTER] with the real Math.random', () => {
    for (let i = 0; i < 200; i++) {
      const decision = decideReconnect({ reason: 'NAVIGATION', attempt: 3, policy });
      if (decision.action !== 'retry') throw new Error(`expected a retry, got ${decision.action}`);
      expect(decision.delayMs).toBeGreaterThanOrEqual(6750);
      expect(decision.delayMs).toBeLessThanOrEqual(7750);
    }
  });

  it('rejects a negative or fractional attempt count and a bad cap, naming the field', () => {
    expect(() => decideReconnect({ reason: 'x', attempt: -1, policy })).toThrow(/attempt must be an integer >= 0/);
    expect(() => decideReconnect({ reason: 'x', attempt: 1.5, policy })).toThrow(/attempt must be an integer >= 0/);
    expect(() => decideReconnect({ reason: 'x', attempt: 0, policy: { ...policy, maxAttempts: -1 } })).toThrow(/policy\.maxAttempts/);
  });
});

describe('decideReconnect: the cap', () => {
  it('retries attempts 1..20 and gives up once 20 were made', () => {
    expect(decideReconnect({ reason: 'worker_exit', attempt: 19, policy }, lowest)).toMatchObject({ action: 'retry', attempt: 20 });
    expect(decideReconnect({ reason: 'worker_exit', attempt: 20, policy }, lowest)).toEqual({ action: 'give_up', reason: 'max_attempts' });
    expect(decideReconnect({ reason: 'worker_exit', attempt: 57, policy }, lowest)).toEqual({ action: 'give_up', reason: 'max_attempts' });
  });

  it('a cap of 0 never retries', () => {
    expect(decideReconnect({ reason: 'worker_exit', attempt: 0, policy: { ...policy, maxAttempts: 0 } })).toEqual({
      action: 'give_up',
      reason: 'max_attempts',
    });
  });

  it('reconnectSchedule lists one delay per attempt up to the cap', () => {
    const schedule = reconnectSchedule(policy, lowest);
    expect(schedule).toHaveLength(20);
    expect(schedule).toEqual(FORMULA.slice(0, 20).map(([, , atLowest]) => atLowest));
  });
});

describe('decideReconnect: reasons that need a human', () => {
  it('NO_RECONNECT_REASONS holds the design list plus the business form of TOS_BLOCK', () => {
    expect([...NO_RECONNECT_REASONS].sort()).toEqual(['401', '402', '403', '406', 'BANNED', 'LOGOUT', 'SMB_TOS_BLOCK', 'TOS_BLOCK'].sort());
  });

  it.each([
    'LOGOUT',
    'logout',
    'Logout',
    'TOS_BLOCK',
    'tos_block',
    'SMB_TOS_BLOCK',
    'BANNED',
    'banned by WhatsApp',
    '401',
    '402',
    '403',
    '406',
    'status 401',
    'Error 403: forbidden',
    'HTTP 406 Not Acceptable',
    'stream:error code=402',
    'disconnected: LOGOUT',
  ])('%j waits for a human, even before the cap is reached', (reason) => {
    expect(isNoReconnectReason(reason)).toBe(true);
    expect(decideReconnect({ reason, attempt: 0, policy }, lowest)).toEqual({ action: 'wait_for_human', reason });
  });

  it('a no-reconnect reason wins over the cap, so the recorded reason says why', () => {
    expect(decideReconnect({ reason: 'LOGOUT', attempt: 20, policy })).toEqual({ action: 'wait_for_human', reason: 'LOGOUT' });
  });

  it.each([
    'CONFLICT',
    'UNPAIRED',
    'UNPAIRED_IDLE',
    'TIMEOUT',
    'NAVIGATION',
    'worker_exit',
    'browser_disconnected',
    'page_closed',
    '4010',
    '1401',
    '400',
    '404',
    '500',
    'LOGOUT_PENDING',
    'TOS_BLOCKED',
    'unbanned',
    '',
  ])('%j looks alike but is retried', (reason) => {
    expect(isNoReconnectReason(reason)).toBe(false);
    expect(decideReconnect({ reason, attempt: 0, policy }, lowest)).toEqual({ action: 'retry', attempt: 1, delayMs: 2000 });
  });
});
