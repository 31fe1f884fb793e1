import { coerceError } from '../../lib/errors.js';
import { ConnectionStatus } from '../domain/instance.js';
import { outboundMessages, type OutboundMove, type OutboundRow } from '../db/messages-repository.js';
import type { Pool } from '../db/pool.js';
import { DatabaseUnavailableError } from '../errors/index.js';
import type { Logger } from '../logger/index.js';
import type { Fleet } from '../supervisor/fleet.js';
import type { Notice } from '../supervisor/notice.js';
import type { WorkerClient } from '../worker/handle.js';
import { nextSendAt } from './pacing.js';
import { afterAbsent, nextStep, type SendStep } from './send-decision.js';

export interface SendSettings {
  minIntervalMs: number;
  jitterMs: number;
  maxPerMinute: number;
  timeoutMs: number;
  maxAttempts: number;
  /** How often every instance with waiting messages is looked at, whatever woke it or not. */
  sweepMs: number;
}

export interface SenderDeps {
  fleet: Fleet;
  pool: Pool;
  log: Logger;
  settings: SendSettings;
  random?: () => number;
  now?: () => number;
}

/** One instance's sending: one pump at a time, its pacing history, its unanswered attempts. */
interface Lane {
  busy: boolean;
  again: boolean;
  lastSendAt: number | null;
  recent: number[];
  /** Message id → worker pid of an attempt that got no answer in this process. */
  unanswered: Map<string, number>;
  timer: NodeJS.Timeout | null;
}

const MINUTE_MS = 60_000;

/**
 * Which errors of a send mean the message was certainly not sent: WhatsApp Web said no, or the
 * worker refused the request before it reached the page.
 */
const REFUSED = new Set(['SEND_REJECTED', 'VALIDATION_FAILED']);

/**
 * Sends each instance's queue in order, one message at a time, paced, only while the instance is
 * CONNECTED. Every state change goes through the journal; `sending` is committed before the
 * worker is asked (a refusal of that write means no send), and anything that leaves the outcome
 * open keeps the message `sending` until WhatsApp Web has been asked about it (send-decision.ts).
 */
export class Sender {
  private readonly lanes = new Map<string, Lane>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private stopped = false;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(private readonly deps: SenderDeps) {
    this.random = deps.random ?? Math.random;
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    this.unsubscribe = this.deps.fleet.events.on('connection.update', (e) => {
      if (e.status === ConnectionStatus.CONNECTED || e.status === ConnectionStatus.DISCONNECTED) this.kick(e.instanceId);
    });
    this.sweepTimer = setInterval(() => void this.sweep(), this.deps.settings.sweepMs);
    this.sweepTimer.unref();
    void this.sweep();
  }

  /** Stops waking lanes and waits (up to `budgetMs`) for sends in flight to be recorded. */
  async stop(budgetMs: number): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const lane of this.lanes.values()) if (lane.timer) clearTimeout(lane.timer);
    const deadline = Date.now() + budgetMs;
    while ([...this.lanes.values()].some((l) => l.busy) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }

  /** Something changed for the instance (a message accepted, a status): look at its queue soon. */
  kick(instanceId: string): void {
    if (this.stopped) return;
    const lane = this.lane(instanceId);
    if (lane.busy) {
      lane.again = true;
      return;
    }
    void this.pump(instanceId, lane);
  }

  private lane(instanceId: string): Lane {
    let lane = this.lanes.get(instanceId);
    if (!lane) {
      lane = { busy: false, again: false, lastSendAt: null, recent: [], unanswered: new Map(), timer: null };
      this.lanes.set(instanceId, lane);
    }
    return lane;
  }

  private async sweep(): Promise<void> {
    const ids = await this.deps.fleet.journal.read(() => outboundMessages.instancesWithWaiting(this.deps.pool)).catch(() => null);
    for (const id of ids ?? []) this.kick(id);
  }

  private async pump(instanceId: string, lane: Lane): Promise<void> {
    lane.busy = true;
    try {
      do {
        lane.again = false;
        while (!this.stopped && (await this.step(instanceId, lane))) {
          /* one message step at a time, until the lane has to wait */
        }
      } while (lane.again && !this.stopped);
    } catch (err) {
      this.deps.log.warn(`sending paused: ${coerceError(err).message}`, { instanceId });
    } finally {
      lane.busy = false;
    }
  }

  /** One step on the head of the queue; true when the next step may follow at once. */
  private async step(instanceId: string, lane: Lane): Promise<boolean> {
    const { fleet, pool, settings } = this.deps;
    let handle;
    try {
      handle = fleet.handle(instanceId);
    } catch {
      return false; // removed: its rows went with it
    }
    const head = await fleet.journal.read(() => outboundMessages.head(pool, instanceId));
    if (!head) return false; // empty, or the database is away (the sweep comes back)
    const live = handle.live;
    const worker = handle.currentWorker;
    const now = this.now();
    const pacedUntil = this.pacedUntil(lane, now);
    const ctx = { now, pacedUntil, maxAttempts: settings.maxAttempts, unansweredOnPid: lane.unanswered.get(head.id) ?? null };
    const instance = { connected: live.status === ConnectionStatus.CONNECTED, workerPid: worker?.pid ?? null, blockedBy: live.blockedBy };
    const step = nextStep({ ...head, expiresAt: head.expiresAt.getTime() }, instance, ctx);
    switch (step.kind) {
      case 'wait':
        this.wakeAt(instanceId, lane, step.until);
        return false;
      case 'finish':
        return this.finish(instanceId, head, step);
      case 'restart':
        this.deps.log.warn('a send got no answer: the page is replaced before the message is looked up', { instanceId });
        lane.unanswered.delete(head.id);
        await fleet.hardRestart(instanceId, 'send_unanswered');
        return false;
      case 'lookup':
        return this.lookup(instanceId, lane, head, worker!);
      case 'send':
        return this.send(instanceId, lane, head, worker!, 'queued');
    }
  }

  private pacedUntil(lane: Lane, now: number): number {
    const { settings } = this.deps;
    lane.recent = lane.recent.filter((t) => t > now - MINUTE_MS);
    return nextSendAt({
      now,
      lastSendAt: lane.lastSendAt,
      recentSendTimes: lane.recent,
      minIntervalMs: settings.minIntervalMs,
      jitterMs: settings.jitterMs,
      maxPerMinute: settings.maxPerMinute,
      random: this.random,
    });
  }

  private wakeAt(instanceId: string, lane: Lane, until: number | null): void {
    if (until === null || this.stopped) return;
    if (lane.timer) clearTimeout(lane.timer);
    lane.timer = setTimeout(() => {
      lane.timer = null;
      this.kick(instanceId);
    }, Math.max(0, until - this.now()));
    lane.timer.unref();
  }

  private async lookup(instanceId: string, lane: Lane, head: OutboundRow, worker: WorkerClient): Promise<boolean> {
    let found: boolean;
    try {
      found = (await worker.findMessage({ chatId: head.chatId, waId: head.waId }, this.deps.settings.timeoutMs)).found;
    } catch (err) {
      this.deps.log.warn(`could not look up a message that may have been sent: ${coerceError(err).message}`, { instanceId });
      await this.move(instanceId, head, { from: ['sending'], to: 'sending', countLookup: true }, 'defer');
      return false;
    }
    if (found) return this.markSent(instanceId, head);
    const now = this.now();
    const next: SendStep = afterAbsent({ ...head, expiresAt: head.expiresAt.getTime() }, { now, pacedUntil: this.pacedUntil(lane, now), maxAttempts: this.deps.settings.maxAttempts });
    if (next.kind === 'finish') return this.finish(instanceId, head, next);
    if (next.kind === 'wait') {
      this.wakeAt(instanceId, lane, next.until);
      return false;
    }
    return this.send(instanceId, lane, head, worker, 'sending');
  }

  private async send(instanceId: string, lane: Lane, head: OutboundRow, worker: WorkerClient, from: 'queued' | 'sending'): Promise<boolean> {
    // Read before the claim: a database that fails this read leaves the message as it was, not `sending`.
    const media = head.media ? await this.deps.fleet.journal.read(() => outboundMessages.mediaOf(this.deps.pool, head.seq)) : null;
    if (head.media && !media) return false;
    // Committed before the worker is asked: if this write is refused, nothing is sent.
    const claimed = await this.move(instanceId, head, { from: [from], to: 'sending', countAttempt: true }, 'refuse').catch((err: unknown) => {
      if (err instanceof DatabaseUnavailableError) return false;
      throw err;
    });
    if (!claimed) return false;
    const startedAt = this.now();
    lane.lastSendAt = startedAt;
    lane.recent.push(startedAt);
    const pid = worker.pid;
    try {
      const reply = await worker.sendMessage(
        {
          chatId: head.chatId,
          waId: head.waId,
          ...(head.kind === 'text' ? { text: head.body ?? '' } : {}),
          ...(head.media && media ? { media: { mimetype: head.media.mimetype, filename: head.media.filename, data: media.toString('base64') }, caption: head.body } : {}),
          quotedId: head.replyTo,
        },
        this.deps.settings.timeoutMs,
      );
      lane.unanswered.delete(head.id);
      const moved = await this.markSent(instanceId, head, reply.waMessageId);
      if (head.media) await outboundMessages.dropMedia(this.deps.pool, head.seq).catch(() => undefined);
      return moved;
    } catch (err) {
      const e = coerceError(err);
      if (REFUSED.has(String(e.code))) {
        lane.unanswered.delete(head.id);
        return this.finish(instanceId, head, { kind: 'finish', to: 'failed', reason: e.message.slice(0, 255) });
      }
      // Sent or not, nobody can say yet: the message stays `sending` until a page that cannot
      // still be busy with it is asked.
      if (pid !== null) lane.unanswered.set(head.id, pid);
      this.deps.log.warn(`a send got no answer (${e.code ?? e.name}: ${e.message}); it will be looked up before any retry`, { instanceId });
      return !worker.alive;
    }
  }

  /**
   * `sent`, announced once. A receipt can overtake the send's own answer (WhatsApp's server ack
   * arrives while the reply is on its way) and has moved the row on already: `sent` is then
   * announced on its own, so every message that went out has its `message.status` sent.
   */
  private async markSent(instanceId: string, head: OutboundRow, waMessageId?: string): Promise<boolean> {
    const move: OutboundMove = { from: ['sending'], to: 'sent', ...(waMessageId ? { waMessageId } : {}) };
    if (await this.move(instanceId, head, move, 'defer', 'sent')) return true;
    const now = await this.deps.fleet.journal.read(() => outboundMessages.byId(this.deps.pool, instanceId, head.id));
    if (now && (now.state === 'sent' || now.state === 'delivered' || now.state === 'read')) {
      await this.deps.fleet.journal.record({ instanceId, notify: [this.statusNotice(instanceId, head, 'sent', now.waMessageId, null)] });
      return true;
    }
    return false;
  }

  private statusNotice(instanceId: string, head: OutboundRow, status: 'sent' | 'failed' | 'expired' | 'unknown', waMessageId: string | null, reason: string | null): Notice {
    const at = new Date(this.now());
    return {
      name: 'message.status',
      payload: { instanceId, messageId: head.id, chatId: head.chatId, status, waMessageId, reason, at },
      ...(status === 'sent' ? {} : { severity: 'MEDIUM' as const }),
    };
  }

  private finish(instanceId: string, head: OutboundRow, step: Extract<SendStep, { kind: 'finish' }>): Promise<boolean> {
    this.lanes.get(instanceId)?.unanswered.delete(head.id);
    return this.move(instanceId, head, { from: [head.state], to: step.to, reason: step.reason }, 'defer', step.to);
  }

  /** One state change through the journal, announced as `message.status` when it is one callers hear of. */
  private async move(
    instanceId: string,
    head: OutboundRow,
    move: OutboundMove,
    policy: 'defer' | 'refuse',
    status?: 'sent' | 'failed' | 'expired' | 'unknown',
  ): Promise<boolean> {
    const notify: Notice[] = status ? [this.statusNotice(instanceId, head, status, move.waMessageId ?? head.waMessageId, move.reason ?? null)] : [];
    const outcome = await this.deps.fleet.journal.record({ instanceId, change: { kind: 'messageMove', messageId: head.id, move }, notify }, policy);
    // Deferred (the database is away): the lane stops; the sweep finds the row as it was written.
    return outcome === 'written';
  }
}
