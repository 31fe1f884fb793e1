export interface BackoffOptions {
  /** Delay before the first retry (attempt 0), in ms. */
  baseMs: number;
  /** Ceiling for the exponential part, so a long outage does not push retries out for hours. */
  maxMs: number;
  /** Up to this many ms added at random, so a fleet that failed together does not retry together. */
  jitterMs: number;
  /** Growth per attempt; at least 1 (a shrinking delay would hammer a struggling dependency). */
  factor?: number;
}

function requireNonNegative(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`backoffDelay: ${name} must be a finite number >= 0, got ${value}`);
  }
}

/**
 * `min(baseMs * factor^attempt, maxMs) + random() * jitterMs`. Pure: `random` is injectable so
 * tests can pin the jitter.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const factor = opts.factor ?? 1.5;
  requireNonNegative('attempt', attempt);
  requireNonNegative('baseMs', opts.baseMs);
  requireNonNegative('maxMs', opts.maxMs);
  requireNonNegative('jitterMs', opts.jitterMs);
  if (!Number.isFinite(factor) || factor < 1) {
    throw new RangeError(`backoffDelay: factor must be a finite number >= 1, got ${factor}`);
  }
  // factor^attempt overflows to Infinity for large attempts; 0 * Infinity would be NaN.
  const exponential = opts.baseMs === 0 ? 0 : opts.baseMs * factor ** attempt;
  return Math.min(exponential, opts.maxMs) + random() * opts.jitterMs;
}
