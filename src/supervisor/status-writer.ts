import { CircuitBreaker } from '../../lib/circuit-breaker.js';
import { coerceError } from '../../lib/errors.js';
import type { InstancesRepository, TransitionPatch } from '../db/instances-repository.js';
import type { ConnectionStatus, NewEvent } from '../domain/instance.js';
import type { Logger } from '../logger/index.js';
import type { Notification } from '../webhooks/outbox.js';

export interface StatusWrite {
  to: ConnectionStatus;
  reason: string | null;
  patch?: TransitionPatch;
  event: Pick<NewEvent, 'category' | 'type' | 'severity' | 'data'>;
  notifications?: readonly Notification[];
}

interface Deferred {
  write: StatusWrite;
  /** Writes collapsed into this one while the database was away. */
  collapsed: number;
}

const FLUSH_EVERY_MS = 2_000;

/**
 * Persists status changes without ever blocking or crashing the fleet on the database.
 *
 * Writes of one instance are applied in order. Each is an optimistic transition from the status
 * the database last held; if the row says otherwise (someone else wrote it), the live status wins
 * and the discrepancy is recorded. While the database is unreachable a circuit breaker stops the
 * attempts and the writes are kept last-write-wins per instance, then flushed when it answers.
 */
export class StatusWriter {
  private readonly dbStatus = new Map<string, ConnectionStatus>();
  private readonly deferred = new Map<string, Deferred>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly breaker: CircuitBreaker;
  private readonly timer: NodeJS.Timeout;
  private flushing = false;

  constructor(
    private readonly repo: InstancesRepository,
    private readonly log: Logger,
  ) {
    this.breaker = new CircuitBreaker({
      failureThreshold: 2,
      resetTimeoutMs: 3_000,
      onStateChange: (from, to) => log.warn(`database circuit ${from} → ${to}`, { deferred: this.deferred.size }),
    });
    this.timer = setInterval(() => void this.flush(), FLUSH_EVERY_MS);
    this.timer.unref();
  }

  /** What the database is known to hold for an instance (from its row at load time, then our writes). */
  track(instanceId: string, status: ConnectionStatus): void {
    this.dbStatus.set(instanceId, status);
  }

  forget(instanceId: string): void {
    this.dbStatus.delete(instanceId);
    this.deferred.delete(instanceId);
  }

  get pending(): number {
    return this.deferred.size;
  }

  /** Queues a write behind the instance's earlier ones; resolves once written or deferred. */
  write(instanceId: string, write: StatusWrite): Promise<void> {
    const previous = this.chains.get(instanceId) ?? Promise.resolve();
    const next = previous.then(() => this.apply(instanceId, write));
    this.chains.set(instanceId, next);
    return next;
  }

  /** Waits for every queued write (used by shutdown before the pool closes). */
  async drain(): Promise<void> {
    await Promise.all(this.chains.values());
    await this.flush();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async apply(instanceId: string, write: StatusWrite): Promise<void> {
    const waiting = this.deferred.get(instanceId);
    if (waiting || !this.breaker.canRequest()) {
      this.defer(instanceId, write, waiting);
      return;
    }
    try {
      await this.persist(instanceId, write);
      this.breaker.recordSuccess();
    } catch (err) {
      this.breaker.recordFailure();
      this.log.warn(`status write deferred: ${coerceError(err).message}`, { instanceId, to: write.to });
      this.defer(instanceId, write, undefined);
    }
  }

  /** Statuses collapse (last write wins); notifications do not: every one is still owed to its receiver. */
  private defer(instanceId: string, write: StatusWrite, waiting: Deferred | undefined): void {
    const patch = { ...waiting?.write.patch, ...write.patch };
    const notifications = [...(waiting?.write.notifications ?? []), ...(write.notifications ?? [])];
    this.deferred.set(instanceId, { write: { ...write, patch, notifications }, collapsed: (waiting?.collapsed ?? 0) + 1 });
  }

  private async persist(instanceId: string, write: StatusWrite): Promise<void> {
    const from = this.dbStatus.get(instanceId) ?? write.to;
    const attempt = await this.repo.transition(instanceId, { from, ...write });
    if (attempt.applied) {
      this.dbStatus.set(instanceId, write.to);
      return;
    }
    if (attempt.actual === null) return; // the row was deleted: nothing left to record
    // The row moved under us (an operator's edit, another node): the live process is the truth.
    this.log.warn(`database said ${attempt.actual}, expected ${from}; correcting to ${write.to}`, { instanceId });
    const data = { ...write.event.data, discrepancy: { database: attempt.actual, expected: from } };
    const retry = await this.repo.transition(instanceId, { from: attempt.actual, ...write, event: { ...write.event, data } });
    if (retry.applied) this.dbStatus.set(instanceId, write.to);
  }

  /** Writes what piled up while the database was away, one collapsed write per instance. */
  async flush(): Promise<void> {
    if (this.flushing || this.deferred.size === 0 || !this.breaker.canRequest()) return;
    this.flushing = true;
    try {
      for (const [instanceId, { write, collapsed }] of [...this.deferred]) {
        const data = { ...write.event.data, deferredWrites: collapsed };
        await this.persist(instanceId, { ...write, event: { ...write.event, data } });
        if (this.deferred.get(instanceId)?.write === write) this.deferred.delete(instanceId);
      }
      this.breaker.recordSuccess();
      this.log.info('deferred status writes flushed');
    } catch (err) {
      this.breaker.recordFailure();
      this.log.debug(`flush failed: ${coerceError(err).message}`);
    } finally {
      this.flushing = false;
    }
  }
}
