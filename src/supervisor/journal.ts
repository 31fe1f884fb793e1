import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import { coerceError } from '../../lib/errors.js';
import { apiKeys } from '../db/api-keys-repository.js';
import { insertEvent } from '../db/events.js';
import { instanceRows, type TransitionPatch } from '../db/instances-repository.js';
import { isOutage } from '../db/outage.js';
import { inTransaction, type Connection, type Pool } from '../db/pool.js';
import type { ConnectionStatus, Health, NewEvent } from '../domain/instance.js';
import { DatabaseUnavailableError } from '../errors/index.js';
import type { Logger } from '../logger/index.js';
import { applyMessageChange, type MessageChange } from '../messages/journal-changes.js';
import { insertNotifications, pinPendingSecrets } from '../webhooks/outbox.js';
import { newWebhookSecret } from '../webhooks/sign.js';
import type { Leases } from '../cluster/leases.js';
import type { FleetEventBus } from './event-bus.js';
import { toNotification, type Notice } from './notice.js';

/** The column change an entry makes to its instance's row, if any. */
export type RowChange =
  | { kind: 'create'; enabled: boolean; webhookUrl: string | null; webhookSecret?: string | null }
  | { kind: 'status'; to: ConnectionStatus; reason: string | null; patch?: TransitionPatch }
  | { kind: 'health'; health: Health; reason: string | null }
  | { kind: 'enabled'; enabled: boolean }
  | { kind: 'remove' }
  /** The webhook URL (null clears it), who set it, and the new secret that signs what goes to it. */
  | { kind: 'webhook'; url: string | null; scope: 'admin' | 'instance'; secret: string | null }
  | { kind: 'webhookSecret'; secret: string }
  | { kind: 'keyCreate'; keyId: string; hash: string; label: string | null }
  | { kind: 'keyRevoke'; keyId: string }
  /** Messages: accepted, moved through their states, received, acknowledged (src/messages/journal-changes.ts). */
  | MessageChange;

/**
 * Not fenced by a lease: an operator's intent, written by whichever node the API request reached,
 * and an inbound message, a fact the phone reported that is recorded once per WhatsApp id. A node
 * that lost its lease while it held received messages (cut from MySQL, say) still records them
 * when it can: the new owner's worker never saw them, and a repeat announces nothing.
 */
const UNFENCED_CHANGES: ReadonlySet<string> = new Set(['create', 'enabled', 'remove', 'webhook', 'webhookSecret', 'keyCreate', 'keyRevoke', 'messageAccept', 'inbound']);

/** Changes that announce nothing when they changed nothing (the rest happened live whatever the row said). */
const QUIET_WHEN_UNCHANGED: ReadonlySet<string> = new Set(['enabled', 'messageAccept', 'messageMove', 'inbound']);

/** One change, recorded whole or not at all: its row change, its audit event, its notifications. */
export interface JournalEntry {
  /** Null for a fleet-wide entry (a host memory alert): notifications only, to the global URL. */
  instanceId: string | null;
  change?: RowChange;
  /** The audit row; a status change's from/to/reason are filled in. */
  event?: NewEvent;
  /** Announced: queued as webhooks in the entry's transaction, emitted on the bus once recorded. */
  notify?: readonly Notice[];
  /** Past the queue bound, a newer pending entry with the same key replaces this one (QR rotations). */
  coalesce?: string;
  /** Called once the database holds what the entry says (written now, later after an outage, or there already). */
  onRecorded?: () => void;
}

/**
 * - `defer` (what the fleet observes: statuses, QRs, verdicts, recovery steps, alerts): while the
 *   database is away the entry waits in order and is written when it answers.
 * - `refuse` (an operator's intent: create, enable, disable, remove): refused at once with
 *   DATABASE_UNAVAILABLE, so the API never says yes to what a restart would forget.
 */
export type Policy = 'defer' | 'refuse';

export type Outcome = 'written' | 'deferred' | 'unchanged' | 'failed' | 'coalesced';

export interface JournalOptions {
  pool: Pool;
  bus: FleetEventBus;
  log: Logger;
  /** Where every notification goes besides its instance's own webhook_url. */
  globalWebhookUrl?: string | undefined;
  /** Pending entries per instance before QR rotations coalesce; status changes are never dropped. */
  maxPendingPerInstance?: number;
  /** How long the circuit stays open before one write tests the database again. */
  retryMs?: number;
  /**
   * CLUSTER=on: this node's leases. An entry that is the node's own doing for an instance (status,
   * health, events, webhooks, message moves) is written only under the lease it holds; an
   * operator's intent (create, enable, remove, webhook, keys, accepting a message) and an inbound
   * message are valid from any node (UNFENCED_CHANGES).
   */
  fence?: Pick<Leases, 'check'> | null;
  /** NODE_ID, recorded on every audit event this journal writes. */
  nodeId?: string;
  /** A data error failed an entry: the fleet counts it against that instance. */
  onEntryFailed?: (instanceId: string, error: Error) => void;
  now?: () => Date;
}

interface Pending {
  entry: JournalEntry;
  policy: Policy;
  at: Date;
  /** Emitted on the bus already (at deferral): not again at commit. */
  announced: boolean;
  settle: (outcome: Outcome) => void;
  fail: (err: Error) => void;
}

const FLEET_KEY = '\u0000fleet';

/**
 * The entry that creates an instance (the fleet's create, and test fixtures that seed rows). An
 * instance created with a webhook URL gets a fresh webhook secret with it (read back once by the
 * API to hand it over); the event says only that one was set.
 */
export function creation(instanceId: string, options: { enabled: boolean; webhookUrl: string | null }): JournalEntry {
  const webhookSecret = options.webhookUrl ? newWebhookSecret() : null;
  return {
    instanceId,
    change: { kind: 'create', ...options, webhookSecret },
    event: { category: 'SESSION', type: 'instance.created', toStatus: 'DISCONNECTED', ...(options.webhookUrl ? { data: { webhook: true } } : {}) },
  };
}

/**
 * The only way any part of the fleet records a change. Entries of one instance are written in
 * the order they were recorded, each in one transaction (row change, `instance_events` row,
 * `webhook_outbox` rows), then announced on the bus. While the database is unreachable one
 * circuit breaker holds every instance's entries in order, and the bus hears of them at once
 * (the live view is the truth; the record follows when the database answers). Only outage-class
 * errors open the circuit: a data error fails its one entry, logged with its instance id.
 *
 * Over 300 lines: the queue, its deferral through an outage and the transaction that writes an
 * entry are one piece of ordering logic.
 */
export class Journal {
  private readonly queues = new Map<string, Pending[]>();
  private readonly running = new Set<string>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  /** What the database is known to hold per instance: the `from` of the next optimistic status move. */
  private readonly dbStatus = new Map<string, ConnectionStatus>();
  private readonly breaker: CircuitBreakerPolicy;
  private readonly maxPending: number;
  private readonly retryMs: number;
  private readonly now: () => Date;
  private overBoundWarned = false;
  private closed = false;
  private writeMark = 0;

  constructor(private readonly options: JournalOptions) {
    this.maxPending = options.maxPendingPerInstance ?? 1_000;
    this.retryMs = options.retryMs ?? 3_000;
    this.now = options.now ?? (() => new Date());
    this.breaker = circuitBreaker(handleWhen(isOutage), { halfOpenAfter: this.retryMs, breaker: new ConsecutiveBreaker(2) });
    this.breaker.onStateChange((state) => options.log.warn(`database circuit ${CircuitState[state]}`, { pending: this.pending }));
  }

  /**
   * Moves when a write of the journal begins and when it ends, whatever its outcome: a read that
   * saw the same mark before it ran and now has seen every change the journal made since.
   */
  get writes(): number {
    return this.writeMark;
  }

  /** False while the circuit is open: reads should not wait on the database either. */
  get databaseUp(): boolean {
    return this.breaker.state === CircuitState.Closed;
  }

  /**
   * A read behind the same circuit: null at once while it is open, null on an outage (which it
   * counts), and once the circuit may test again a read can be the test that closes it.
   */
  async read<T>(query: () => Promise<T>): Promise<T | null> {
    try {
      return await this.breaker.execute(query);
    } catch (err) {
      if (err instanceof BrokenCircuitError || isOutage(err)) return null;
      throw err;
    }
  }

  /** Entries waiting to be written (deferred or in flight). */
  get pending(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  /** Entries of one instance waiting to be written. */
  pendingFor(instanceId: string): number {
    return this.queues.get(instanceId)?.length ?? 0;
  }

  /** What the database holds for an instance, from its row at load time; moves follow from it. */
  track(instanceId: string, status: ConnectionStatus): void {
    this.dbStatus.set(instanceId, status);
  }

  /**
   * Queues the entry behind the instance's earlier ones. Resolves once written, deferred (the
   * database is away), or failed by a data error; rejects only a `refuse` entry (database away,
   * or a refusal such as INSTANCE_EXISTS).
   */
  record(entry: JournalEntry, policy: Policy = 'defer'): Promise<Outcome> {
    const key = entry.instanceId ?? FLEET_KEY;
    const queue = this.queues.get(key) ?? [];
    // A `refuse` entry behind deferred ones, or facing an open circuit, is refused by run().
    return new Promise<Outcome>((settle, fail) => {
      const pending: Pending = { entry, policy, at: this.now(), announced: false, settle, fail };
      if (queue.length >= this.maxPending) this.overBound(queue, pending);
      queue.push(pending);
      this.queues.set(key, queue);
      void this.run(key);
    });
  }

  /** Past the bound: a coalescing entry replaces the newest pending one with its key; anything else is kept. */
  private overBound(queue: Pending[], next: Pending): void {
    if (!this.overBoundWarned) {
      this.overBoundWarned = true;
      this.options.log.warn(`over ${this.maxPending} entries wait for the database; QR rotations now coalesce, status changes are all kept`, {
        instanceId: next.entry.instanceId ?? undefined,
      });
    }
    const tag = next.entry.coalesce;
    if (tag === undefined) return;
    // Index 0 may be in flight: never replace it.
    for (let i = queue.length - 1; i > 0; i--) {
      if (queue[i]!.entry.coalesce !== tag) continue;
      const [older] = queue.splice(i, 1);
      // Its record is dropped, not its news: listeners still hear of it.
      this.announce(older!, true);
      older!.settle('coalesced');
      return;
    }
  }

  /** Writes the instance's queue head-first until empty, or until the database is away. */
  private async run(key: string): Promise<void> {
    if (this.running.has(key)) return;
    this.running.add(key);
    try {
      const queue = this.queues.get(key);
      while (queue && queue.length > 0) {
        const head = queue[0]!;
        try {
          this.writeMark++;
          const outcome = await this.breaker.execute(() => this.write(head)).finally(() => this.writeMark++);
          queue.shift();
          // An enable/disable or a message change that changed nothing has nothing to announce;
          // anything else happened live whatever the row said (a status of a row removed meanwhile).
          this.announce(head, outcome === 'written' || !QUIET_WHEN_UNCHANGED.has(head.entry.change?.kind ?? ''));
          head.settle(outcome);
          if (outcome === 'written' || outcome === 'unchanged') head.entry.onRecorded?.();
        } catch (err) {
          if (err instanceof BrokenCircuitError || isOutage(err)) {
            this.holdBack(key, queue);
            return;
          }
          queue.shift();
          this.failed(head, coerceError(err));
        }
      }
      if (queue?.length === 0) this.queues.delete(key);
    } finally {
      this.running.delete(key);
    }
  }

  /** The database is away: refused entries are refused, the rest are announced now and retried later. */
  private holdBack(key: string, queue: Pending[]): void {
    for (let i = queue.length - 1; i >= 0; i--) {
      const p = queue[i]!;
      if (p.policy !== 'refuse') continue;
      queue.splice(i, 1);
      p.fail(new DatabaseUnavailableError());
    }
    for (const p of queue) {
      if (p.announced) continue;
      this.announce(p, true);
      p.settle('deferred');
    }
    if (queue.length === 0) {
      this.queues.delete(key);
      return;
    }
    if (this.closed || this.retryTimers.has(key)) return;
    const timer = setTimeout(() => {
      this.retryTimers.delete(key);
      void this.run(key);
    }, this.retryMs);
    timer.unref();
    this.retryTimers.set(key, timer);
  }

  private failed(p: Pending, err: Error): void {
    const instanceId = p.entry.instanceId;
    if (p.policy === 'refuse') {
      p.fail(err);
      return;
    }
    const fenced = (err as { code?: string }).code === 'LEASE_LOST';
    // A fenced write was logged and counted by the fence; it is this node's past, not the instance's error.
    if (!fenced) this.options.log.error(`could not record ${describe(p.entry)}: ${err.message}`, { instanceId: instanceId ?? undefined, code: (err as { code?: string }).code });
    // The live state moved all the same: listeners still hear of it.
    this.announce(p, true);
    if (instanceId && !fenced) this.options.onEntryFailed?.(instanceId, err);
    p.settle('failed');
  }

  private announce(p: Pending, changed: boolean): void {
    if (p.announced || !changed) return;
    p.announced = true;
    for (const n of p.entry.notify ?? []) (this.options.bus.emit as (name: string, payload: unknown) => void)(n.name, n.payload);
  }

  private write(p: Pending): Promise<Outcome> {
    return inTransaction(this.options.pool, (conn) => this.apply(conn, p));
  }

  private async apply(conn: Connection, p: Pending): Promise<Outcome> {
    const { entry, at } = p;
    const id = entry.instanceId;
    const change = entry.change;
    let event = entry.event;
    // Due at the entry's time: the receiver gets an instance's notifications in the order recorded.
    // Built when queued, not before: a receipt fills in its message id as it is written.
    const queueNotes = () => insertNotifications(conn, (entry.notify ?? []).map(toNotification), { globalUrl: this.options.globalWebhookUrl }, at);
    if (id === null) {
      await queueNotes();
      return 'written';
    }
    if (this.options.fence && !UNFENCED_CHANGES.has(change?.kind ?? '')) await this.options.fence.check(conn, id, describe(entry));
    let moved: ConnectionStatus | null = null;
    switch (change?.kind) {
      case 'create':
        await instanceRows.insert(conn, id, change, at);
        moved = 'DISCONNECTED';
        break;
      case 'status': {
        const from = this.dbStatus.get(id) ?? change.to;
        let result = await instanceRows.moveStatus(conn, id, { from, ...change }, at);
        if (result === null) return 'unchanged'; // the row was removed: nothing left to record
        let actualFrom = from;
        if (result !== true) {
          // The row moved under us (an operator's edit, another node): the live process is the truth.
          this.options.log.warn(`database said ${result}, expected ${from}; correcting to ${change.to}`, { instanceId: id });
          event = { ...(event ?? { category: 'SESSION', type: 'status' }), data: { ...event?.data, discrepancy: { database: result, expected: from } } };
          actualFrom = result;
          result = await instanceRows.moveStatus(conn, id, { from: result, ...change }, at);
          if (result !== true) return 'unchanged';
        }
        event = { ...(event ?? { category: 'SESSION', type: 'status' }), fromStatus: actualFrom, toStatus: change.to, reason: change.reason };
        moved = change.to;
        break;
      }
      case 'health':
        if (!(await instanceRows.setHealth(conn, id, change.health, change.reason, at))) return 'unchanged';
        break;
      case 'enabled':
        if (!(await instanceRows.setEnabled(conn, id, change.enabled, at))) return 'unchanged';
        break;
      case 'webhook':
        // Rows still pending for the old URL keep the secret that URL had.
        await pinPendingSecrets(conn, id);
        if (!(await instanceRows.setWebhook(conn, id, change, at))) return 'unchanged';
        break;
      case 'webhookSecret':
        if (!(await instanceRows.setWebhookSecret(conn, id, change.secret, at))) return 'unchanged';
        break;
      case 'keyCreate':
        await apiKeys.insert(conn, id, change, at);
        break;
      case 'keyRevoke':
        if (!(await apiKeys.remove(conn, id, change.keyId))) return 'unchanged';
        break;
      case 'messageAccept':
      case 'messageMove':
      case 'inbound':
      case 'receipt':
        if ((await applyMessageChange(conn, id, change, at)) === 'unchanged') return 'unchanged';
        break;
      case 'remove':
        // Queued before the row goes: the instance's own webhook_url is read from it, and its
        // pending rows keep the secret that signs them.
        await queueNotes();
        await pinPendingSecrets(conn, id);
        // Its keys go with it (the foreign key would cascade; said here, in the same transaction).
        await apiKeys.removeAllOf(conn, id);
        if (!(await instanceRows.remove(conn, id))) return 'unchanged';
        if (event) await insertEvent(conn, id, event, at, this.options.nodeId ?? null);
        this.dbStatus.delete(id);
        return 'written';
      default:
        break;
    }
    await queueNotes();
    if (event) await insertEvent(conn, id, event, at, this.options.nodeId ?? null);
    if (moved) this.dbStatus.set(id, moved);
    return 'written';
  }

  /**
   * Writes what waits, within `budgetMs` (shutdown, before the pool closes). Returns how many
   * entries are still unwritten; they are logged, since the process is about to lose them.
   */
  async drain(budgetMs: number): Promise<number> {
    const deadline = Date.now() + budgetMs;
    while (this.pending > 0 && Date.now() < deadline) {
      await Promise.all([...this.queues.keys()].map((key) => this.run(key)));
      if (this.pending > 0) await new Promise((r) => setTimeout(r, Math.min(250, Math.max(1, deadline - Date.now()))));
    }
    const left = this.pending;
    if (left > 0) this.options.log.error(`${left} journal entries could not be written before shutdown (the database stayed away)`);
    return left;
  }

  /** Stops the retry timers; entries still pending are not retried any more. */
  close(): void {
    this.closed = true;
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.retryTimers.clear();
  }
}

function describe(entry: JournalEntry): string {
  return entry.event?.type ?? entry.change?.kind ?? entry.notify?.[0]?.name ?? 'an entry';
}
