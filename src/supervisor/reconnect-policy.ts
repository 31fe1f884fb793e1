import { backoffDelay } from '../../lib/backoff.js';

/** Growth per attempt of the reconnect delay (DESIGN.md: `BASE * 1.5^attempt`). */
const FACTOR = 1.5;

export interface ReconnectPolicy {
  baseMs: number;
  maxMs: number;
  jitterMs: number;
  /** Reconnects tried since the last CONNECTED before giving up. */
  maxAttempts: number;
  /** The first reconnect after a steady connection went down waits this long, not the formula (RECONNECT_FIRST_DELAY_MS). */
  firstDelayMs: number;
}

/**
 * A connection held this long counts as steady: when it goes down, the first reconnect does not
 * wait out the backoff (a crash or a killed browser is not the phone's doing, and a cold restore
 * is the whole cost). Shorter ones keep the formula, so a page that crashes soon after each
 * connect is not restarted in a tight loop.
 */
export const STEADY_CONNECTION_MS = 10_000;

export interface ReconnectInput {
  /** Why the instance went down: a whatsapp-web.js disconnect reason, an error text, `worker_exit`, … */
  reason: string;
  /** Attempts already made since the last CONNECTED (the caller resets it there). */
  attempt: number;
  policy: ReconnectPolicy;
  /** How long the instance had been CONNECTED when it went down; null or absent when it was not CONNECTED. */
  connectedForMs?: number | null;
}

export type ReconnectDecision =
  /** `attempt` is the number of the attempt to make, 1-based; `delayMs` is whole milliseconds. */
  | { action: 'retry'; attempt: number; delayMs: number }
  | { action: 'give_up'; reason: 'max_attempts' }
  | { action: 'wait_for_human'; reason: string };

/**
 * Reasons after which reconnecting cannot help and may hurt: the phone unlinked the session, or
 * WhatsApp blocked or banned the number (retrying a ban risks making it permanent). The numeric
 * ones are the HTTP-like statuses WhatsApp uses for the same verdicts.
 */
export const NO_RECONNECT_REASONS: readonly string[] = Object.freeze([
  'LOGOUT',
  'TOS_BLOCK',
  // The WhatsApp Business form of TOS_BLOCK (whatsapp-web.js WAState.SMB_TOS_BLOCK).
  'SMB_TOS_BLOCK',
  'BANNED',
  '401',
  '402',
  '403',
  '406',
]);
const NO_RECONNECT = new Set(NO_RECONNECT_REASONS);

/**
 * True when `reason` holds one of NO_RECONNECT_REASONS as a whole word, in any case: 'logout',
 * 'status 401' and 'Error 403: forbidden' match; 'UNPAIRED', '4010' and 'LOGOUT_PENDING' do not.
 */
export function isNoReconnectReason(reason: string): boolean {
  const words = reason.toUpperCase().match(/[A-Z0-9_]+/g) ?? [];
  return words.some((word) => NO_RECONNECT.has(word));
}

function requireCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`decideReconnect: ${name} must be an integer >= 0, got ${value}`);
  }
}

/** What to do after an unexpected disconnect. Pure: `random` is injectable to pin the jitter. */
export function decideReconnect(input: ReconnectInput, random: () => number = Math.random): ReconnectDecision {
  const { reason, attempt, policy } = input;
  requireCount('attempt', attempt);
  requireCount('policy.maxAttempts', policy.maxAttempts);
  // Checked before the cap: a logout stays a logout whatever the count, and the human must know why.
  if (isNoReconnectReason(reason)) return { action: 'wait_for_human', reason };
  if (attempt >= policy.maxAttempts) return { action: 'give_up', reason: 'max_attempts' };
  // The seeds' formula from the second attempt on: only a steady connection's first try skips it.
  if (attempt === 0 && (input.connectedForMs ?? -1) >= STEADY_CONNECTION_MS) return { action: 'retry', attempt: 1, delayMs: Math.round(policy.firstDelayMs) };
  const { baseMs, maxMs, jitterMs } = policy;
  const delay = backoffDelay(attempt, { baseMs, maxMs, jitterMs, factor: FACTOR }, random);
  // Timers have millisecond resolution (Node truncates fractions); rounding here makes the
  // recorded delay the one actually waited.
  return { action: 'retry', attempt: attempt + 1, delayMs: Math.round(delay) };
}

/** The delays a reconnect loop that never succeeds waits, in order (the instance was not CONNECTED): one per attempt up to the cap. */
export function reconnectSchedule(policy: ReconnectPolicy, random: () => number = Math.random): number[] {
  const delays: number[] = [];
  for (let attempt = 0; ; attempt++) {
    const decision = decideReconnect({ reason: 'schedule', attempt, policy }, random);
    if (decision.action !== 'retry') return delays;
    delays.push(decision.delayMs);
  }
}
