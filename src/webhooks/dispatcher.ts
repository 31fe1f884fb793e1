/*
 * The webhook dispatcher: claims due outbox rows, delivers them per receiver URL in order behind
 * one circuit per receiver, and marks, retries or dead-letters them. Over 300 lines because the
 * claim → send → mark cycle, its per-receiver lanes and its graceful stop share one lease and
 * one set of counters; split, each part would reach into the others' state.
 */
import { BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, handleAll, type CircuitBreakerPolicy } from 'cockatiel';
import { setTimeout as delay } from 'node:timers/promises';
import { coerceError } from '../../lib/errors.js';
import type { Pool } from '../db/pool.js';
import { Category, type Logger } from '../logger/index.js';
import { systemResolver, type ResolveHost } from './address-guard.js';
import { buildRequest, postGuardedWebhook, postWebhook, retryDelayMs, WebhookDeliveryError } from './delivery.js';
import { claimDue, markDead, markDelivered, markFailed, releaseClaims, type ClaimedRow } from './outbox.js';

export interface WebhookDispatcherOptions {
  pool: Pool;
  log: Logger;
  /**
   * WEBHOOK_SECRET: signs what goes to the global URL, and what goes to an instance's own URL while
   * that instance has no secret of its own (a URL set before per-instance secrets). Absent or
   * empty: those deliveries go unsigned. Rows to an instance's URL are signed with its secret.
   */
  secret?: string | undefined;
  /** How a URL set by an instance's own key is resolved at connect time (checked, then connected to). Tests inject one. */
  resolveHost?: ResolveHost;
  /** Deliveries tried before a row is dead-lettered. */
  maxAttempts: number;
  /** Wait after the first failure; doubles with each further one. Default 5 s. */
  baseDelayMs?: number;
  /** Ceiling of that wait. Default 1 h. */
  maxDelayMs?: number;
  /** Time a receiver has to answer. Default 10 s. */
  timeoutMs?: number;
  /** Pause between passes when the outbox has nothing due. Default 1 s. */
  pollMs?: number;
  /** Rows claimed per pass. Default 50. */
  batchSize?: number;
  /** How long a claim keeps other dispatchers off a row; must exceed timeoutMs. Default max(60 s, 3 × timeoutMs). */
  leaseMs?: number;
  /** Per receiver URL: consecutive failures that stop sending to it, and how long until one trial. Default 5 / 60 s. */
  breaker?: { failureThreshold: number; resetTimeoutMs: number };
  fetch?: typeof fetch;
  /**
   * Clock in epoch ms of the schedule written to the outbox. The breakers time their pause on the
   * real clock (cockatiel reads Date.now()); only the pause's length matters, so an offset clock is fine.
   */
  now?: () => number;
}

/** Counters since start, for /metrics. */
export interface WebhookStats {
  /** Deliveries a receiver answered with 2xx. */
  delivered: number;
  /** Failed deliveries (non-2xx, unreachable, timeout), the last one of a dead-lettered row included. */
  failed: number;
  /** Rows dead-lettered. */
  dead: number;
  /** Rows put back unsent because their receiver's circuit was open. */
  skippedOpenCircuit: number;
}

type Outcome = { kind: 'delivered' } | { kind: 'failed' } | { kind: 'circuit_open'; retryInMs: number } | { kind: 'abandoned' };

function requirePositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`WebhookDispatcher: ${name} must be an integer >= 1, got ${value}`);
}

/** One receiver's circuit, and when it last opened (on the dispatcher's clock) to tell when its trial is due. */
interface ReceiverCircuit {
  policy: CircuitBreakerPolicy;
  openedAt: number;
}

/** Enough to tell receivers apart in a log line; paths and queries may carry tokens, so they stay out. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '<invalid url>';
  }
}

/**
 * Sends the outbox: claims due rows, POSTs them (one lane per receiver URL, lanes in parallel,
 * rows of a lane in order), marks each delivered, failed with backoff, or dead. Every row is
 * sent at least once; a receiver deduplicates on X-Webhook-Id for the rare resend after a
 * dispatcher died mid-request. Several dispatchers may run on one database: claims keep them
 * off each other's rows.
 */
export class WebhookDispatcher {
  readonly #pool: Pool;
  readonly #log: Logger;
  readonly #secret: string | undefined;
  readonly #resolveHost: ResolveHost;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #timeoutMs: number;
  readonly #pollMs: number;
  readonly #batchSize: number;
  readonly #leaseMs: number;
  readonly #breakerOptions: { failureThreshold: number; resetTimeoutMs: number };
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #circuits = new Map<string, ReceiverCircuit>();
  readonly #stats: WebhookStats = { delivered: 0, failed: 0, dead: 0, skippedOpenCircuit: 0 };
  /** Aborted when stop() runs out of budget: requests still in flight are dropped. */
  readonly #abort = new AbortController();
  readonly #passes = new Set<Promise<number>>();
  #loop: Promise<void> | undefined;
  #stopping = false;
  #woken = false;
  #interruptIdle: (() => void) | undefined;

  constructor(opts: WebhookDispatcherOptions) {
    this.#pool = opts.pool;
    this.#log = opts.log.child({ category: Category.WEBHOOK });
    this.#secret = opts.secret || undefined;
    this.#resolveHost = opts.resolveHost ?? systemResolver;
    this.#maxAttempts = opts.maxAttempts;
    this.#baseDelayMs = opts.baseDelayMs ?? 5_000;
    this.#maxDelayMs = opts.maxDelayMs ?? 3_600_000;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#pollMs = opts.pollMs ?? 1_000;
    this.#batchSize = opts.batchSize ?? 50;
    this.#leaseMs = opts.leaseMs ?? Math.max(60_000, this.#timeoutMs * 3);
    this.#breakerOptions = opts.breaker ?? { failureThreshold: 5, resetTimeoutMs: 60_000 };
    this.#fetch = opts.fetch ?? fetch;
    this.#now = opts.now ?? Date.now;
    for (const [name, value] of Object.entries({
      maxAttempts: this.#maxAttempts,
      baseDelayMs: this.#baseDelayMs,
      maxDelayMs: this.#maxDelayMs,
      timeoutMs: this.#timeoutMs,
      pollMs: this.#pollMs,
      batchSize: this.#batchSize,
      leaseMs: this.#leaseMs,
    })) {
      requirePositiveInteger(name, value);
    }
    if (this.#leaseMs <= this.#timeoutMs) {
      throw new RangeError(`WebhookDispatcher: leaseMs (${this.#leaseMs}) must exceed timeoutMs (${this.#timeoutMs})`);
    }
    // Fails here, naming the option, rather than at the first delivery.
    requirePositiveInteger('breaker.failureThreshold', this.#breakerOptions.failureThreshold);
    const { resetTimeoutMs } = this.#breakerOptions;
    if (!Number.isFinite(resetTimeoutMs) || resetTimeoutMs < 0) {
      throw new RangeError(`WebhookDispatcher: breaker.resetTimeoutMs must be a finite number >= 0, got ${resetTimeoutMs}`);
    }
  }

  /**
   * Starts polling. What an earlier process left unsent is due already and goes out on the first
   * pass; a row it died while sending comes back when that claim's lease ends.
   */
  start(): void {
    if (this.#stopping) throw new Error('WebhookDispatcher: cannot start after stop()');
    this.#loop ??= this.#run();
  }

  /**
   * Stops polling and gives in-flight deliveries up to `budgetMs` to finish; rows claimed but not
   * yet sent are handed back at once for the next dispatcher. Past the budget, requests still in
   * flight are dropped and their rows return when the claim's lease ends.
   */
  async stop(budgetMs: number): Promise<void> {
    this.#stopping = true;
    this.#interruptIdle?.();
    const work = Promise.allSettled([...(this.#loop ? [this.#loop] : []), ...this.#passes]);
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      work.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), budgetMs);
      }),
    ]);
    clearTimeout(timer);
    if (!inTime) {
      this.#abort.abort(new Error('webhook dispatcher stopped'));
      this.#log.warn('webhook deliveries still in flight at shutdown were dropped; they are resent after their lease', {
        budgetMs,
        leaseMs: this.#leaseMs,
      });
    }
  }

  /** Asks for a pass soon (a notification was just written) instead of at the next poll. */
  wake(): void {
    this.#woken = true;
    this.#interruptIdle?.();
  }

  /** One pass: claims due rows and delivers them. Resolves with how many rows it claimed. */
  async tick(): Promise<number> {
    if (this.#stopping) return 0;
    const pass = this.#pass();
    this.#passes.add(pass);
    try {
      return await pass;
    } finally {
      this.#passes.delete(pass);
    }
  }

  stats(): WebhookStats {
    return { ...this.#stats };
  }

  /** The polling loop: never throws; a failing database is logged once, then again when it recovers. */
  async #run(): Promise<void> {
    let failing = false;
    while (!this.#stopping) {
      this.#woken = false;
      let claimed = 0;
      try {
        claimed = await this.tick();
        if (failing) this.#log.info('webhook outbox reachable again');
        failing = false;
      } catch (err) {
        if (!failing && !this.#abort.signal.aborted) {
          this.#log.error('webhook outbox pass failed; retrying at each poll', { error: coerceError(err).message });
        }
        failing = true;
      }
      // A full batch means more is probably due: go again without waiting.
      if (claimed < this.#batchSize && !this.#woken && !this.#stopping) await this.#idle();
    }
  }

  #idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.#pollMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#interruptIdle = done;
    }).finally(() => {
      this.#interruptIdle = undefined;
    });
  }

  async #pass(): Promise<number> {
    const rows = await claimDue(this.#pool, { now: new Date(this.#now()), limit: this.#batchSize, leaseMs: this.#leaseMs });
    const lanes = new Map<string, ClaimedRow[]>();
    for (const row of rows) {
      const lane = lanes.get(row.url);
      if (lane) lane.push(row);
      else lanes.set(row.url, [row]);
    }
    // allSettled: a lane whose database write failed must not leave the others running untracked.
    const results = await Promise.allSettled([...lanes].map(([url, laneRows]) => this.#deliverLane(url, laneRows)));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
    return rows.length;
  }

  /**
   * Sends one receiver's rows in order. At the first failure the rest go back unsent, so a
   * receiver that hangs costs one timeout per pass, not one per row; once its circuit opens, its
   * rows are not even tried until the breaker allows a trial.
   */
  async #deliverLane(url: string, rows: ClaimedRow[]): Promise<void> {
    const circuit = this.#circuitFor(url);
    for (const [i, row] of rows.entries()) {
      // A send that could outlive the lease might overlap another dispatcher's send of the row.
      if (this.#stopping || row.claimedUntil.getTime() - this.#now() < this.#timeoutMs) {
        await releaseClaims(this.#pool, rows.slice(i));
        return;
      }
      const outcome = await this.#attempt(circuit, row);
      if (outcome.kind === 'delivered') continue;
      if (outcome.kind === 'circuit_open') {
        this.#stats.skippedOpenCircuit += rows.length - i;
        await releaseClaims(this.#pool, rows.slice(i), new Date(this.#now() + outcome.retryInMs));
      } else if (outcome.kind === 'failed') {
        await releaseClaims(this.#pool, rows.slice(i + 1));
      }
      return;
    }
  }

  async #attempt(circuit: ReceiverCircuit, row: ClaimedRow): Promise<Outcome> {
    // One trial at a time: cockatiel would queue this send behind the trial in flight, which could
    // run it past its lease. Put it back instead; the trial is settled within timeoutMs.
    if (circuit.policy.state === CircuitState.HalfOpen) return { kind: 'circuit_open', retryInMs: this.#timeoutMs };
    // Signed now, with the secret the row's signer has now (a rotation reaches rows already queued).
    const secret = row.signer === 'instance' ? (row.instanceSecret ?? this.#secret) : this.#secret;
    const request = buildRequest(row, secret, Math.floor(this.#now() / 1000));
    const opts = { timeoutMs: this.#timeoutMs, signal: this.#abort.signal };
    let statusCode: number;
    try {
      statusCode = await circuit.policy.execute(() =>
        row.urlScope === 'instance'
          ? postGuardedWebhook(row.url, request, { ...opts, resolve: this.#resolveHost })
          : postWebhook(this.#fetch, row.url, request, opts),
      );
    } catch (err) {
      if (err instanceof BrokenCircuitError) {
        return { kind: 'circuit_open', retryInMs: Math.max(0, circuit.openedAt + this.#breakerOptions.resetTimeoutMs - this.#now()) };
      }
      // Dropped at shutdown: whether it arrived is unknown, so the row stays claimed and is resent after the lease.
      if (this.#abort.signal.aborted) return { kind: 'abandoned' };
      await this.#recordFailure(row, err);
      return { kind: 'failed' };
    }
    this.#stats.delivered++;
    const marked = await this.#recordDelivered(row, statusCode);
    if (!marked) this.#log.warn('webhook delivered after its claim lapsed; it may be sent twice', this.#describe(row));
    else this.#log.debug('webhook delivered', { ...this.#describe(row), statusCode });
    return { kind: 'delivered' };
  }

  /**
   * Marks a row its receiver took. The receiver has it now, so a mark lost to a database outage
   * would send it again once the claim ran out: the mark is retried at each poll until the
   * database answers (the claim token still names this dispatcher unless another one took the
   * row over meanwhile, which the answer tells). Only a stop past its budget gives up on it.
   */
  async #recordDelivered(row: ClaimedRow, statusCode: number): Promise<boolean> {
    for (let tries = 1; ; tries++) {
      try {
        const marked = await markDelivered(this.#pool, row, { at: new Date(this.#now()), statusCode });
        if (tries > 1) this.#log.info('webhook delivery recorded once the database answered again', { ...this.#describe(row), tries });
        return marked;
      } catch (err) {
        if (this.#abort.signal.aborted) throw err;
        if (tries === 1) {
          this.#log.warn('webhook delivered but the database did not record it; retrying until it does', {
            ...this.#describe(row),
            error: coerceError(err).message,
          });
        }
        await delay(this.#pollMs, undefined, { signal: this.#abort.signal }).catch(() => undefined);
      }
    }
  }

  async #recordFailure(row: ClaimedRow, err: unknown): Promise<void> {
    this.#stats.failed++;
    const error = coerceError(err).message;
    const statusCode = err instanceof WebhookDeliveryError ? err.statusCode : null;
    const attempts = row.attempts + 1;
    const fields = { ...this.#describe(row), attempt: attempts, maxAttempts: this.#maxAttempts, statusCode, error };
    if (attempts >= this.#maxAttempts) {
      if (await markDead(this.#pool, row, { error, statusCode })) {
        this.#stats.dead++;
        this.#log.warn('webhook dead-lettered after its last attempt', fields);
      }
      return;
    }
    const retryInMs = retryDelayMs(attempts, { baseMs: this.#baseDelayMs, maxMs: this.#maxDelayMs });
    await markFailed(this.#pool, row, { nextAttemptAt: new Date(this.#now() + retryInMs), error, statusCode });
    this.#log.info('webhook delivery failed; will retry', { ...fields, retryInMs });
  }

  /**
   * failureThreshold consecutive failures open the receiver's circuit; after resetTimeoutMs one
   * trial goes out: success closes it, failure opens it again.
   */
  #circuitFor(url: string): ReceiverCircuit {
    let circuit = this.#circuits.get(url);
    if (!circuit) {
      const receiver = originOf(url);
      const policy = circuitBreaker(handleAll, {
        halfOpenAfter: this.#breakerOptions.resetTimeoutMs,
        breaker: new ConsecutiveBreaker(this.#breakerOptions.failureThreshold),
      });
      const created: ReceiverCircuit = { policy, openedAt: 0 };
      policy.onBreak(() => {
        created.openedAt = this.#now();
        this.#log.warn('webhook receiver keeps failing; pausing its deliveries', { receiver });
      });
      policy.onReset(() => this.#log.info('webhook receiver answering again', { receiver }));
      this.#circuits.set(url, created);
      circuit = created;
    }
    return circuit;
  }

  #describe(row: ClaimedRow): Record<string, unknown> {
    return { eventId: row.eventId, event: row.event, instanceId: row.instanceId, receiver: originOf(row.url), outboxId: row.id };
  }
}
