import type { Page } from 'puppeteer';
import type wwebjs from 'whatsapp-web.js';
import { coerceError } from '../../lib/errors.js';
import { withTimeout } from '../../lib/timeout.js';
import { AppError } from '../errors/index.js';
import type { InboundOutbox } from './inbound-outbox.js';
import { MessageMedia } from './library.js';
import {
  WorkerEvent,
  type FindRequest,
  type FindResult,
  type MediaPayload,
  type MessageAckPayload,
  type MessageEventPayload,
  type SendRequest,
  type SendResult,
} from './protocol.js';

type WaClient = InstanceType<typeof wwebjs.Client>;
type WaMessage = wwebjs.Message;

export type Report = (type: WorkerEvent, payload?: unknown) => void;
/** The running client and its page, or a NotRunningError. */
export type PageAccess = () => { client: WaClient; page: Page };

/** How many of its own sends the driver remembers, to keep them out of `message` events. */
const OWN_IDS_KEPT = 2_048;
/** fromMe messages held back while a send is in flight, at most (past it they are reported as they come). */
const HELD_MAX = 256;
/** Time the page has to say whether a send took its one-shot id, after the send. */
const RESTORE_TIMEOUT_MS = 2_000;
/** The library's own words when the message to reply to is gone (sent with ignoreQuoteErrors: false). */
const QUOTE_GONE = 'Could not get the quoted message.';
/** Where the one-shot id generator keeps its state on the WAWebMsgKey module object. */
const ONE_SHOT = '__waFleetOneShot';

/** The last `max` ids added; the oldest go first. */
class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly max: number) {}

  add(id: string): void {
    this.ids.delete(id);
    this.ids.add(id);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value!);
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }
}

/**
 * Messages through the library: sends under the id the supervisor chose, lookups by that id,
 * media downloads, and the library's message events as worker events.
 *
 * Sending under a chosen id: whatsapp-web.js's injected `WWebJS.sendMessage` asks
 * `window.require('WAWebMsgKey').newId()` for the new message's id, once per send. Before each
 * send the driver puts a one-shot `newId` on that module that returns the chosen id and puts the
 * original back as it does. Sends go one at a time (`line`), so no other send can take it; a send
 * that timed out holds the line until the page shows its one-shot is spent (or put back), or the
 * send settles: a late `newId()` of a hung send would otherwise take the next send's id.
 */
export class MessageDriver {
  /** Resolves when the page is free for the next send. Never rejects. */
  private line: Promise<void> = Promise.resolve();
  /** waIds and serialized ids this driver sent: their message_create is the supervisor's own send. */
  private readonly own = new RecentIds(OWN_IDS_KEPT);
  /** A send is in flight: fromMe messages wait until its id is known (WhatsApp Web may not have used ours). */
  private sending = false;
  private held: MessageEventPayload[] = [];

  constructor(
    private readonly access: PageAccess,
    private readonly report: Report,
    /** Kept until the supervisor confirms each report committed (inbound-outbox.ts); null in tests that need none. */
    private readonly outbox: InboundOutbox | null = null,
  ) {}

  /** Reports a message, first writing it down until the supervisor confirms it. */
  private emit(payload: MessageEventPayload): void {
    this.outbox?.add(payload);
    this.report(WorkerEvent.MESSAGE, payload);
  }

  /** A new start: what the last one reported and never heard confirmed is reported again. */
  replayUnconfirmed(): number {
    const pending = this.outbox?.pending() ?? [];
    for (const payload of pending) this.report(WorkerEvent.MESSAGE, payload);
    return pending.length;
  }

  /** The supervisor committed these (or had them already): they need no second report. */
  confirmed(ids: readonly string[]): void {
    this.outbox?.confirm(ids);
  }

  /** Forwards a (new) client's message events. */
  attach(client: WaClient): void {
    client.on('message_create', (message: WaMessage) => this.onCreate(client, message));
    client.on('message_ack', (message: WaMessage, ack: number) => this.onAck(message, ack));
  }

  private onCreate(client: WaClient, message: WaMessage): void {
    try {
      if (message.fromMe && (this.own.has(message.id.id) || this.own.has(message.id._serialized))) return;
      const payload = messageEventOf(message, client.info?.wid?._serialized ?? null);
      if (message.fromMe && this.sending && this.held.length < HELD_MAX) this.held.push(payload);
      else this.emit(payload);
    } catch (err) {
      this.reportError('message_create', err);
    }
  }

  private onAck(message: WaMessage, ack: number): void {
    try {
      const payload: MessageAckPayload = { id: message.id._serialized, chatId: chatOf(message), ack, fromMe: message.fromMe };
      this.report(WorkerEvent.MESSAGE_ACK, payload);
    } catch (err) {
      this.reportError('message_ack', err);
    }
  }

  private reportError(source: string, err: unknown): void {
    const e = coerceError(err);
    this.report(WorkerEvent.ERROR, { source, name: e.name, message: e.message, code: e.code });
  }

  /**
   * Sends one message under `req.waId`. Rejects with SEND_REJECTED when WhatsApp Web refused it
   * (not sent); any other rejection (timeout, page gone, library error) means "cannot tell".
   */
  async send(req: SendRequest, timeoutMs: number): Promise<SendResult> {
    const deadline = Date.now() + timeoutMs;
    const previous = this.line;
    let release!: () => void;
    this.line = new Promise<void>((resolve) => (release = resolve));
    try {
      await withTimeout(previous, timeoutMs, 'send_message (waiting for the send before it)');
    } catch (err) {
      // Never reached the page: the line passes on once the send before this one is done.
      void previous.then(release);
      throw err;
    }

    let page: Page | null = null;
    let work: Promise<SendResult> | null = null;
    try {
      const running = this.access();
      page = running.page;
      // Before the send: its message_create may arrive before the send's own answer.
      this.own.add(req.waId);
      this.sending = true;
      work = this.sendWithId(running.client, running.page, req);
      const result = await withTimeout(work, Math.max(1, deadline - Date.now()), 'send_message');
      this.own.add(result.waMessageId);
      return result;
    } catch (err) {
      throw rejected(err) ?? err;
    } finally {
      // In the background: the answer (a timeout above all) must not wait for the page.
      void this.afterSend(page, req.waId, work).finally(release);
    }
  }

  private async sendWithId(client: WaClient, page: Page, req: SendRequest): Promise<SendResult> {
    const installed = await page.evaluate(installOneShot, req.waId, ONE_SHOT);
    if (installed !== 'installed') {
      // Sent under an id of WhatsApp Web's choosing, the message could not be looked up: refuse.
      throw new AppError('INTERNAL', `the message id generator of WhatsApp Web could not be replaced (${installed}); nothing was sent`);
    }
    const media = req.media ? new MessageMedia(req.media.mimetype, req.media.data, req.media.filename) : null;
    const sent = await client.sendMessage(req.chatId, media ?? req.text ?? '', {
      sendSeen: false,
      linkPreview: false,
      quotedMessageId: req.quotedId ?? undefined,
      ignoreQuoteErrors: false,
      caption: req.caption ?? undefined,
      // Anything but a picture goes as a document: the file arrives as it was, not re-encoded.
      sendMediaAsDocument: media !== null && !media.mimetype.startsWith('image/'),
    });
    // The library answers undefined when WhatsApp Web has no such chat: nothing was sent.
    if (!sent) throw new AppError('SEND_REJECTED', `WhatsApp Web has no chat ${req.chatId}`);
    const waMessageId = sent.id._serialized;
    return { waMessageId, timestamp: typeof sent.timestamp === 'number' ? sent.timestamp : null, idMatched: waMessageId.includes(req.waId) };
  }

  /** Puts `newId` back if the send did not take it; frees the line once no late `newId()` can take the next send's id. */
  private async afterSend(page: Page | null, waId: string, work: Promise<SendResult> | null): Promise<void> {
    try {
      if (!page || !work) return;
      // true: spent, put back, or a new page (a reloaded page runs nothing of the old send); null: no answer.
      const safe = page.isClosed() ? true : await withTimeout(page.evaluate(restoreOneShot, waId, ONE_SHOT), RESTORE_TIMEOUT_MS, 'newId restore').catch(() => null);
      if (safe === null) await work.catch(() => undefined);
    } finally {
      this.sending = false;
      this.flushHeld();
    }
  }

  private flushHeld(): void {
    const held = this.held;
    this.held = [];
    for (const payload of held) {
      const waId = payload.id.split('_')[2] ?? '';
      if (!this.own.has(payload.id) && !this.own.has(waId)) this.emit(payload);
    }
  }

  /** Whether WhatsApp Web holds the message this session sent as `waId` to `chatId`. A page that cannot tell throws. */
  async find(req: FindRequest, timeoutMs: number): Promise<FindResult> {
    const { page } = this.access();
    const id = `true_${req.chatId}_${req.waId}`;
    return withTimeout(page.evaluate(lookUp, id), timeoutMs, 'find_message');
  }

  /** A message's media, as the library downloads it; MEDIA_NOT_AVAILABLE when there is none to get. */
  async downloadMedia(messageId: string, timeoutMs: number): Promise<MediaPayload> {
    const { client } = this.access();
    const download = async (): Promise<MediaPayload> => {
      const message = await client.getMessageById(messageId);
      if (!message) throw new AppError('MEDIA_NOT_AVAILABLE', `no message ${messageId}`);
      if (!message.hasMedia) throw new AppError('MEDIA_NOT_AVAILABLE', `message ${messageId} has no media`);
      const media = await message.downloadMedia();
      if (!media) throw new AppError('MEDIA_NOT_AVAILABLE', `the media of message ${messageId} can no longer be downloaded`);
      return { mimetype: media.mimetype, filename: media.filename ?? null, data: media.data };
    };
    return withTimeout(download(), timeoutMs, 'download_media');
  }
}

/** The refusals that mean "not sent" as SEND_REJECTED; null for everything else. */
function rejected(err: unknown): AppError | null {
  if (err instanceof AppError) return err.code === 'SEND_REJECTED' ? err : null;
  if (coerceError(err).message.includes(QUOTE_GONE)) return new AppError('SEND_REJECTED', 'the message to reply to is gone from WhatsApp Web', { cause: err });
  return null;
}

/** The other party: the sender of an incoming message, the recipient of one of ours. */
function chatOf(message: WaMessage): string {
  return (message.fromMe ? message.to : message.from) ?? '';
}

const serializedOf = (wid: unknown): string | null =>
  typeof wid === 'string' ? wid : typeof wid === 'object' && wid !== null && typeof (wid as { _serialized?: unknown })._serialized === 'string' ? (wid as { _serialized: string })._serialized : null;

/**
 * The serialized id of the message `data` replies to. WhatsApp Web keeps a reply's quote as
 * context (quotedStanzaID, quotedParticipant, quotedRemoteJid), not as an id: rebuild it the way
 * a message key serializes (`<fromMe>_<chat>_<id>`, a group's incoming ones with `_<participant>`).
 */
export function quotedIdOf(data: Record<string, unknown>, chatId: string, me: string | null): string | null {
  const stanza = data.quotedStanzaID;
  if (typeof stanza !== 'string' || !/^[0-9A-Za-z]+$/.test(stanza)) return null;
  const remote = serializedOf(data.quotedRemoteJid) ?? chatId;
  const participant = serializedOf(data.quotedParticipant);
  const fromMe = participant !== null && participant === me;
  const inGroup = remote.endsWith('@g.us');
  return `${fromMe}_${remote}_${stanza}${inGroup && !fromMe && participant ? `_${participant}` : ''}`;
}

export function messageEventOf(message: WaMessage, me: string | null): MessageEventPayload {
  const chatId = chatOf(message);
  const data = ((message as unknown as { _data?: Record<string, unknown> })._data ?? {}) as Record<string, unknown>;
  return {
    id: message.id._serialized,
    chatId,
    from: message.from ?? '',
    to: message.to ?? '',
    fromMe: message.fromMe,
    type: String(message.type),
    body: message.body ?? '',
    timestamp: typeof message.timestamp === 'number' ? message.timestamp : null,
    hasMedia: message.hasMedia,
    quotedId: message.hasQuotedMsg ? quotedIdOf(data, chatId, me) : null,
    author: message.author ?? null,
  };
}

// ---------------------------------------------------------------- run in the page

interface OneShotState {
  original: () => unknown;
  waId: string;
}
type MsgKeyModule = { newId?: ((...a: unknown[]) => unknown) & { [k: string]: OneShotState | undefined } };

/** In the page: `WAWebMsgKey.newId` answers `waId` once, then is the original again. */
function installOneShot(waId: string, key: string): 'installed' | 'missing' | 'refused' {
  const mod = (window as unknown as { require?: (m: string) => unknown }).require?.('WAWebMsgKey') as MsgKeyModule | undefined;
  if (!mod || typeof mod.newId !== 'function') return 'missing';
  // A one-shot left by a send that never reached newId (its page call failed first): its original is the real one.
  const original = mod.newId[key]?.original ?? mod.newId;
  const oneShot = Object.assign(
    function () {
      mod.newId = original as MsgKeyModule['newId'];
      return Promise.resolve(waId);
    },
    { [key]: { original, waId } },
  );
  mod.newId = oneShot as MsgKeyModule['newId'];
  return mod.newId === oneShot ? 'installed' : 'refused';
}

/** In the page: puts the original `newId` back if `waId`'s one-shot is still there. Always true: from now on it cannot be taken. */
function restoreOneShot(waId: string, key: string): boolean {
  const mod = (window as unknown as { require?: (m: string) => unknown }).require?.('WAWebMsgKey') as MsgKeyModule | undefined;
  const state = mod?.newId?.[key];
  if (mod && state && state.waId === waId) mod.newId = state.original as MsgKeyModule['newId'];
  return true;
}

/** In the page: the message with serialized id `id`, in memory or in WhatsApp Web's store. */
async function lookUp(id: string): Promise<FindResult> {
  type Model = { ack?: unknown };
  const collections = (window as unknown as { require?: (m: string) => unknown }).require?.('WAWebCollections') as
    | { Msg?: { get?: (id: string) => Model | undefined; getMessagesById?: (ids: string[]) => Promise<{ messages?: Model[] } | undefined> } }
    | undefined;
  const msgs = collections?.Msg;
  if (!msgs || typeof msgs.get !== 'function') throw new Error('WhatsApp Web has no message collection');
  let found = msgs.get(id);
  if (!found) {
    // Only memory was searched so far: without the store, "not there" would be a guess.
    if (typeof msgs.getMessagesById !== 'function') throw new Error('WhatsApp Web cannot look messages up by id');
    found = (await msgs.getMessagesById([id]))?.messages?.[0];
  }
  return found ? { found: true, ack: typeof found.ack === 'number' ? found.ack : null } : { found: false, ack: null };
}
