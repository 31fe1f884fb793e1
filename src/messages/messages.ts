import { createHash, randomUUID } from 'node:crypto';
import type { Config } from '../config/index.js';
import { outboundMessages, type NewOutbound, type OutboundRow } from '../db/messages-repository.js';
import type { Pool } from '../db/pool.js';
import { AppError } from '../errors/index.js';
import type { Logger } from '../logger/index.js';
import type { Fleet } from '../supervisor/fleet.js';
import type { MessageAckEvent } from '../supervisor/event-bus.js';
import type { ResolveHost } from '../webhooks/address-guard.js';
import { clientMessageId, serializedOutgoingId } from './client-id.js';
import type { MessageChange } from './journal-changes.js';
import { checkMimetype, decodeBase64Media, fetchMedia, sendFilename } from './media.js';
import { OUTBOUND_STATES, type OutboundState } from './outbound-state.js';
import { toChatId } from './recipient.js';
import { requestHash, type SendBody } from './send-request.js';
import { Sender } from './sender.js';
import type { EventPayload } from '../worker/messages.js';
import { WorkerEvent } from '../worker/protocol.js';

const BYTES_PER_MIB = 1024 * 1024;
/** How often the sender looks at every instance with waiting messages, besides being woken. */
const SWEEP_MS = 5_000;

type WorkerMessagePayload = EventPayload<typeof WorkerEvent.MESSAGE>;
type WorkerAckPayload = EventPayload<typeof WorkerEvent.MESSAGE_ACK>;

export interface AcceptOptions {
  idempotencyKey: string | null;
  /** Who asks: an instance's own key may not make the supervisor fetch from its own network. */
  scope: 'admin' | 'instance';
}

export interface MessagesDeps {
  fleet: Fleet;
  pool: Pool;
  config: Config;
  log: Logger;
  /** Resolves a media URL's host for the private-address check (tests inject one). */
  resolveHost?: ResolveHost;
}

const ACK_STATUS: Record<string, MessageAckEvent['status']> = { '-1': 'error', '0': 'pending', '1': 'sent', '2': 'delivered', '3': 'read', '4': 'read' };

/**
 * Messages through the isolation wall: accepts sends into the durable queue (202 only once
 * committed), answers what became of them, turns the workers' inbound messages and receipts into
 * journal entries (row + webhook in one transaction), and runs the sender.
 */
export class Messages {
  readonly sender: Sender;

  constructor(private readonly deps: MessagesDeps) {
    const { config } = deps;
    this.sender = new Sender({
      fleet: deps.fleet,
      pool: deps.pool,
      log: deps.log,
      settings: {
        minIntervalMs: config.sendMinIntervalMs,
        jitterMs: config.sendJitterMs,
        maxPerMinute: config.sendMaxPerMinute,
        timeoutMs: config.sendTimeoutMs,
        maxAttempts: config.sendMaxAttempts,
        sweepMs: SWEEP_MS,
      },
    });
    deps.fleet.onWorkerMessage((instanceId, m) => {
      if (m.event === WorkerEvent.MESSAGE) void this.received(instanceId, m.payload);
      else if (m.event === WorkerEvent.MESSAGE_ACK) void this.acknowledged(instanceId, m.payload);
    });
  }

  start(): void {
    this.deps.fleet.events.on('logout.instance', (e) => this.sender.kick(e.instanceId));
    this.deps.fleet.events.on('no.connection', (e) => this.sender.kick(e.instanceId));
    this.sender.start();
  }

  stop(budgetMs: number): Promise<void> {
    return this.sender.stop(budgetMs);
  }

  /**
   * Validates, fetches or decodes the media, and commits the message; resolves with it once it is
   * in the database (`created` false: the Idempotency-Key named an earlier, identical request).
   */
  async accept(instanceId: string, body: SendBody, options: AcceptOptions): Promise<{ message: OutboundRow; created: boolean }> {
    const { config, fleet } = this.deps;
    const live = fleet.handle(instanceId).live;
    if (live.blockedBy) throw new AppError('INSTANCE_BLOCKED', `the instance was ${live.blockedBy}; nothing is sent for it until a phone is linked again`);
    if (!live.wid) throw new AppError('NOT_LINKED');
    const chatId = toChatId(body.to);
    const media = await this.mediaOf(body, options);
    const id = randomUUID();
    const waId = clientMessageId(instanceId, id);
    const message: NewOutbound = {
      id,
      instanceId,
      idempotencyKey: options.idempotencyKey,
      requestHash: requestHash(instanceId, body, media?.sha256 ?? null),
      chatId,
      kind: media ? 'media' : 'text',
      body: media ? (body.caption ?? null) : (body.text ?? null),
      replyTo: body.replyTo ?? null,
      media,
      waId,
      waMessageId: serializedOutgoingId(chatId, waId),
      expiresAt: new Date(Date.now() + config.sendMaxAgeMs),
    };
    const change: MessageChange = { kind: 'messageAccept', message, queueMax: config.messageQueueMax };
    await fleet.journal.record({ instanceId, change }, 'refuse');
    if (change.existing) {
      if (change.existing.requestHash !== message.requestHash) {
        throw new AppError('IDEMPOTENCY_CONFLICT', 'this Idempotency-Key was used with a different message; use a new key for a new message');
      }
      return { message: change.existing, created: false };
    }
    // Read back before the sender is woken: the answer shows the message as accepted (`queued`).
    const accepted = await this.get(instanceId, id);
    this.sender.kick(instanceId);
    return { message: accepted, created: true };
  }

  private async mediaOf(body: SendBody, options: AcceptOptions): Promise<NewOutbound['media']> {
    if (!body.media) return null;
    const maxBytes = this.deps.config.messageMediaMaxMb * BYTES_PER_MIB;
    let data: Buffer;
    let mimetype = body.media.mimetype ?? null;
    let filename = body.media.filename ?? null;
    if (body.media.base64 !== undefined) {
      data = decodeBase64Media(body.media.base64, maxBytes);
    } else {
      const fetched = await fetchMedia(body.media.url!, {
        maxBytes,
        timeoutMs: this.deps.config.mediaFetchTimeoutMs,
        guardPrivate: options.scope === 'instance',
        ...(this.deps.resolveHost ? { resolve: this.deps.resolveHost } : {}),
      });
      data = fetched.data;
      mimetype ??= fetched.mimetype;
      filename ??= fetched.filename;
    }
    if (!mimetype) throw new AppError('VALIDATION_FAILED', 'media.mimetype: the media URL named no Content-Type; give media.mimetype');
    const type = checkMimetype(mimetype);
    return { mimetype: type, filename: sendFilename(type, filename), data, sha256: createHash('sha256').update(data).digest('hex') };
  }

  /** One message of the instance; MESSAGE_NOT_FOUND, or DATABASE_UNAVAILABLE while the database is away. */
  async get(instanceId: string, id: string): Promise<OutboundRow> {
    const row = await this.read(() => outboundMessages.byId(this.deps.pool, instanceId, id));
    if (!row) throw new AppError('MESSAGE_NOT_FOUND', `no message ${id} on ${instanceId}`);
    return row;
  }

  list(instanceId: string, opts: { limit: number; before?: number; state?: OutboundState }): Promise<OutboundRow[]> {
    return this.read(() => outboundMessages.list(this.deps.pool, instanceId, opts));
  }

  /** How many messages of the instance are in each state. */
  async counts(instanceId: string): Promise<Record<OutboundState, number>> {
    const rows = await this.read(() => outboundMessages.countsByState(this.deps.pool));
    const counts = Object.fromEntries(OUTBOUND_STATES.map((s) => [s, 0])) as Record<OutboundState, number>;
    for (const r of rows) if (r.instanceId === instanceId) counts[r.state] = r.count;
    return counts;
  }

  /** A read behind the journal's circuit; boxed, since the circuit says "away" with null and a query may answer null. */
  private async read<T>(query: () => Promise<T>): Promise<T> {
    const boxed = await this.deps.fleet.journal.read(async () => ({ value: await query() }));
    if (boxed === null) throw new AppError('DATABASE_UNAVAILABLE', 'the database is unreachable; messages cannot be read now');
    return boxed.value;
  }

  /** An inbound message (or the phone's own): recorded once per WhatsApp id, with its webhook. */
  private async received(instanceId: string, p: WorkerMessagePayload): Promise<void> {
    const at = new Date();
    await this.deps.fleet.journal.record({
      instanceId,
      change: {
        kind: 'inbound',
        message: {
          instanceId,
          waMessageId: p.id,
          chatId: p.chatId,
          from: p.from,
          to: p.to,
          fromMe: p.fromMe,
          type: p.type,
          body: p.body,
          waTimestamp: p.timestamp,
          hasMedia: p.hasMedia,
          quotedId: p.quotedId,
          receivedAt: at,
        },
      },
      notify: [{ name: 'message.received', payload: { instanceId, ...p, at } }],
      // Committed (or known already): the worker may forget it; until then it reports it again after a restart.
      onRecorded: () => this.deps.fleet.find(instanceId)?.currentWorker?.inboundRecorded?.([p.id]),
    });
  }

  /** A receipt of a message the phone sent: moves our row (if it is ours) and goes out as `message.ack`. */
  private async acknowledged(instanceId: string, p: WorkerAckPayload): Promise<void> {
    // Receipts the phone gives for messages it received (read by us) are not news to anyone.
    if (!p.fromMe) return;
    const notice: MessageAckEvent = { instanceId, id: p.id, chatId: p.chatId, ack: p.ack, status: ACK_STATUS[String(p.ack)] ?? 'pending', messageId: null, at: new Date() };
    await this.deps.fleet.journal.record({ instanceId, change: { kind: 'receipt', waMessageId: p.id, ack: p.ack, notice }, notify: [{ name: 'message.ack', payload: notice }] });
  }
}
