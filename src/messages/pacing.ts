/*
 * When an instance may send next. Sends are spaced by a least interval plus random jitter (a
 * burst at machine speed looks like a bot to WhatsApp), and capped per rolling minute: within any
 * 60 s, i.e. any window [t, t + 60000), at most maxPerMinute sends start.
 */

export interface PacingInput {
  now: number;
  /** Epoch ms the previous send started, or null when there was none. */
  lastSendAt: number | null;
  /** Epoch ms of the sends in the last 60 s (any order; older ones are ignored). */
  recentSendTimes: readonly number[];
  minIntervalMs: number;
  jitterMs: number;
  /** 0: no limit. */
  maxPerMinute: number;
  /** In [0, 1), like Math.random. */
  random: () => number;
}

const MINUTE_MS = 60_000;

/** The earliest epoch ms the next send may start (`now` when it may start at once). */
export function nextSendAt(input: PacingInput): number {
  const { now, lastSendAt, minIntervalMs, jitterMs, maxPerMinute } = input;
  let at = now;
  if (lastSendAt !== null && (minIntervalMs > 0 || jitterMs > 0)) {
    at = Math.max(at, lastSendAt + minIntervalMs + Math.floor(input.random() * jitterMs));
  }
  if (maxPerMinute > 0) {
    const recent = input.recentSendTimes.filter((t) => t >= now - MINUTE_MS && t <= now).sort((a, b) => a - b);
    // The send that starts at `at` must leave at most maxPerMinute in (at - 60000, at]: it waits
    // for the oldest of the last maxPerMinute sends to fall out of the window.
    if (recent.length >= maxPerMinute) at = Math.max(at, recent[recent.length - maxPerMinute]! + MINUTE_MS);
  }
  return at;
}
