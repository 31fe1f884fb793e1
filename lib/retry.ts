export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface RetryOptions {
  /** Total tries, the first one included (1 = no retry). */
  attempts: number;
  /** Wait after failed attempt `attempt` (0-based), e.g. `(a) => backoffDelay(a, opts)`. */
  delayMs: (attempt: number) => number;
  /** Return false for errors that retrying cannot fix (bad input, auth); they are thrown at once. */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /** Aborting stops between attempts and during the wait, rejecting with `signal.reason`. */
  signal?: AbortSignal;
  /** Injectable so tests run on a fake clock; must reject (or return) promptly when `signal` aborts. */
  sleep?: Sleep;
}

/**
 * The global setTimeout rather than timers/promises: fake timers (vitest, sinon) replace the
 * former only. An abort rejects with `signal.reason`, as throwIfAborted does between attempts.
 */
const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Calls `fn(attempt)` until it resolves, `attempts` are used up, `shouldRetry` says no, or the
 * signal aborts. The last error is rethrown as is, so callers see the real failure, not a wrapper.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  if (!Number.isInteger(opts.attempts) || opts.attempts < 1) {
    throw new RangeError(`retry: attempts must be an integer >= 1, got ${opts.attempts}`);
  }
  const sleep = opts.sleep ?? realSleep;
  for (let attempt = 0; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      const isLast = attempt + 1 >= opts.attempts;
      if (isLast || (opts.shouldRetry && !opts.shouldRetry(error, attempt))) throw error;
    }
    opts.signal?.throwIfAborted();
    await sleep(opts.delayMs(attempt), opts.signal);
  }
}
