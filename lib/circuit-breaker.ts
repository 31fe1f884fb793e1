import { CodedError } from './errors.js';

export type CircuitState = 'closed' | 'open' | 'half_open';

export class CircuitOpenError extends CodedError {
  /** How long until the breaker lets a trial request through. */
  readonly retryInMs: number;

  constructor(retryInMs: number) {
    super('CIRCUIT_OPEN', `circuit is open; next trial in ${Math.ceil(retryInMs)} ms`);
    this.retryInMs = retryInMs;
  }
}

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one trial request is allowed. */
  resetTimeoutMs: number;
  now?: () => number;
  onStateChange?: (from: CircuitState, to: CircuitState) => void;
}

/**
 * Stops calling a dependency that keeps failing, then probes it with one request at a time.
 *
 * closed --(failureThreshold consecutive failures)--> open --(resetTimeoutMs)--> half_open
 * half_open --(trial succeeds)--> closed;  half_open --(trial fails)--> open
 *
 * The open -> half_open move happens lazily when `state` or `canRequest()` is read, so there are
 * no timers to clean up.
 */
export class CircuitBreaker {
  readonly #failureThreshold: number;
  readonly #resetTimeoutMs: number;
  readonly #now: () => number;
  readonly #onStateChange: ((from: CircuitState, to: CircuitState) => void) | undefined;
  #state: CircuitState = 'closed';
  #consecutiveFailures = 0;
  #openedAt = 0;
  /** When the half-open trial was handed out, or null while nobody holds it. */
  #trialStartedAt: number | null = null;

  constructor(opts: CircuitBreakerOptions) {
    if (!Number.isInteger(opts.failureThreshold) || opts.failureThreshold < 1) {
      throw new RangeError(`CircuitBreaker: failureThreshold must be an integer >= 1, got ${opts.failureThreshold}`);
    }
    if (!Number.isFinite(opts.resetTimeoutMs) || opts.resetTimeoutMs < 0) {
      throw new RangeError(`CircuitBreaker: resetTimeoutMs must be a finite number >= 0, got ${opts.resetTimeoutMs}`);
    }
    this.#failureThreshold = opts.failureThreshold;
    this.#resetTimeoutMs = opts.resetTimeoutMs;
    this.#now = opts.now ?? Date.now;
    this.#onStateChange = opts.onStateChange;
  }

  get state(): CircuitState {
    this.#halfOpenIfDue();
    return this.#state;
  }

  /**
   * Whether a request may go out now. In half_open this hands out the single trial, so a caller
   * that gets `true` must report the outcome with recordSuccess/recordFailure. A trial that is
   * never reported expires after resetTimeoutMs, so a lost caller cannot wedge the breaker.
   */
  canRequest(): boolean {
    this.#halfOpenIfDue();
    if (this.#state === 'closed') return true;
    if (this.#state === 'open') return false;
    const now = this.#now();
    if (this.#trialStartedAt !== null && now - this.#trialStartedAt < this.#resetTimeoutMs) return false;
    this.#trialStartedAt = now;
    return true;
  }

  recordSuccess(): void {
    this.#halfOpenIfDue();
    // A success reported while open comes from a request sent before the circuit opened: stale.
    if (this.#state === 'open') return;
    this.#consecutiveFailures = 0;
    this.#setState('closed');
  }

  recordFailure(): void {
    this.#halfOpenIfDue();
    if (this.#state === 'open') return;
    this.#consecutiveFailures++;
    if (this.#state === 'half_open' || this.#consecutiveFailures >= this.#failureThreshold) {
      this.#openedAt = this.#now();
      this.#setState('open');
    }
  }

  /** Runs `fn` if allowed, recording its outcome; rejects with CircuitOpenError without calling it otherwise. */
  async exec<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.canRequest()) throw new CircuitOpenError(this.#retryInMs());
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      this.recordFailure();
      throw error;
    }
    this.recordSuccess();
    return result;
  }

  #retryInMs(): number {
    if (this.#state === 'open') return Math.max(0, this.#openedAt + this.#resetTimeoutMs - this.#now());
    // half_open with the trial taken: the next chance is when that trial expires.
    return Math.max(0, (this.#trialStartedAt ?? 0) + this.#resetTimeoutMs - this.#now());
  }

  #halfOpenIfDue(): void {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#resetTimeoutMs) {
      this.#setState('half_open');
    }
  }

  /** The only place the state changes, so every transition is reported exactly once. */
  #setState(to: CircuitState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#trialStartedAt = null;
    this.#onStateChange?.(from, to);
  }
}
