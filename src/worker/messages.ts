import { z } from 'zod';
import {
  WorkerEvent,
  type DeepResult,
  type FindResult,
  type MediaPayload,
  type MessageAckPayload,
  type MessageEventPayload,
  type PingResult,
  type SendResult,
  type SessionBackupReport,
} from './protocol.js';

/*
 * What a worker may say, checked at the boundary. A worker runs a browser that runs a page we do
 * not control: its events are input, like an HTTP body. A payload that fails here never reaches
 * the fleet's state, the database or a kill(): it is reported as an error of that one instance.
 * The limits are the columns' (push_name VARCHAR(255), wid VARCHAR(64)) and what a real value
 * needs (a WhatsApp QR is ~250 characters). A message body is WhatsApp's own cap (65 536
 * characters); message and chat ids are ~20–60 characters, 200 leaves room for group and lid forms.
 * Media crosses as base64: 64 MiB of it is 48 MiB of file, over WhatsApp's 16 MB for photos and
 * videos; a bigger document is refused here rather than pushed through the channel.
 */

export const LIMITS = {
  qr: 2_048,
  wid: 64,
  pushName: 255,
  reason: 255,
  message: 8_192,
  body: 65_536,
  id: 200,
  mimetype: 255,
  filename: 1_024,
  mediaBase64: 64 * 1024 * 1024,
} as const;

const text = (max: number) => z.string().max(max);
const optionalText = (max: number) => text(max).nullish();

/** A chat or user id: `<user>@<server>` (c.us, g.us, lid, newsletter …). No `_`: it separates a serialized message id's parts. */
const chatId = z.string().max(LIMITS.id).regex(/^[^\s_@]+@[^\s_@]+$/, 'not a chat id');
/** A serialized message id: `<fromMe>_<chat>_<id>`, a group's incoming ones with `_<participant>`. */
const messageId = z.string().max(LIMITS.id).regex(/^(true|false)_[^\s_]+_[^\s_]+(_[^\s_]+)?$/, 'not a serialized message id');
/** The id part alone, as WhatsApp Web makes them (hex or alphanumeric): it becomes part of a serialized id. */
const waId = z.string().regex(/^[0-9A-Za-z]{1,128}$/, 'not a WhatsApp message id (1–128 letters and digits)');
/** Standard base64, as MessageMedia holds it. */
const base64 = z.string().max(LIMITS.mediaBase64).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64');
/** -1 error, 0 pending, 1 server, 2 device, 3 read, 4 played; a little room for values WhatsApp may add. */
const ack = z.number().int().min(-1).max(15);
/** Seconds since the epoch, as WhatsApp Web keeps `t`. */
const timestamp = z.number().int().nonnegative().nullable();

const media = z.object({
  mimetype: text(LIMITS.mimetype).min(1),
  filename: text(LIMITS.filename).nullable(),
  data: base64,
}) satisfies z.ZodType<MediaPayload>;

const messageEvent = z.object({
  id: messageId,
  chatId,
  from: text(LIMITS.id),
  to: text(LIMITS.id),
  fromMe: z.boolean(),
  type: text(64),
  body: text(LIMITS.body),
  timestamp,
  hasMedia: z.boolean(),
  quotedId: messageId.nullable(),
  author: text(LIMITS.id).nullable(),
}) satisfies z.ZodType<MessageEventPayload>;

const messageAckEvent = z.object({ id: messageId, chatId, ack, fromMe: z.boolean() }) satisfies z.ZodType<MessageAckPayload>;

export const EVENT_SCHEMAS = {
  [WorkerEvent.HELLO]: z.object({ pid: z.number().int().positive().optional() }).passthrough().nullish(),
  [WorkerEvent.QR]: z.object({ qr: text(LIMITS.qr).min(1) }),
  [WorkerEvent.AUTHENTICATED]: z.unknown(),
  [WorkerEvent.READY]: z.object({ wid: optionalText(LIMITS.wid), pushname: optionalText(LIMITS.pushName) }),
  [WorkerEvent.CHANGE_STATE]: z.object({ state: text(64) }),
  [WorkerEvent.DISCONNECTED]: z.object({ reason: text(LIMITS.reason) }),
  [WorkerEvent.AUTH_FAILURE]: z.object({ message: optionalText(LIMITS.message) }).nullish(),
  [WorkerEvent.LOADING_SCREEN]: z.unknown(),
  [WorkerEvent.PAIRING_CODE]: z.object({ code: text(16) }),
  [WorkerEvent.ERROR]: z.object({ source: text(64), name: text(256), message: text(LIMITS.message), code: optionalText(64) }),
  // A pid of 0 or 1 would make kill(-pid) signal every process we may signal; the handle also
  // checks that the pid is the worker's descendant before it believes it.
  [WorkerEvent.BROWSER_LAUNCHED]: z.object({ pid: z.number().int().gt(1).nullable() }),
  [WorkerEvent.BROWSER_DISCONNECTED]: z.unknown(),
  [WorkerEvent.PAGE_CLOSED]: z.object({ reason: optionalText(LIMITS.reason) }).nullish(),
  [WorkerEvent.MESSAGE]: messageEvent,
  [WorkerEvent.MESSAGE_ACK]: messageAckEvent,
  [WorkerEvent.SESSION_BACKUP]: z.object({
    action: z.enum(['restored', 'kept', 'saved', 'failed']),
    bytes: z.number().int().nonnegative().nullable(),
    ms: z.number().int().nonnegative().nullable(),
    message: optionalText(LIMITS.message),
  }) satisfies z.ZodType<SessionBackupReport>,
} satisfies Record<WorkerEvent, z.ZodType>;

export type EventPayload<E extends WorkerEvent> = z.infer<(typeof EVENT_SCHEMAS)[E]>;

/** A checked event: the name narrows the payload. */
export type WorkerMessage = { [E in WorkerEvent]: { event: E; payload: EventPayload<E> } }[WorkerEvent];

/** Replies to requests, checked the same way. */
export const REPLY_SCHEMAS = {
  ping: z.object({ state: z.string().max(64).nullable(), latencyMs: z.number().nonnegative() }) satisfies z.ZodType<PingResult>,
  deep: z.object({
    storePresent: z.boolean(),
    socketState: z.string().max(64).nullable(),
    jsHeapUsedBytes: z.number().nonnegative().nullable(),
    jsHeapTotalBytes: z.number().nonnegative().nullable(),
  }) satisfies z.ZodType<DeepResult>,
  gc: z.object({ jsHeapUsedBytes: z.number().nonnegative().nullable(), workerHeapUsedBytes: z.number().nonnegative().optional() }),
  pairingCode: z.object({ code: z.string().min(1).max(16) }),
  send: z.object({ waMessageId: messageId, timestamp, idMatched: z.boolean() }) satisfies z.ZodType<SendResult>,
  find: z.object({ found: z.boolean(), ack: ack.nullable() }) satisfies z.ZodType<FindResult>,
  media,
  /** Replies whose content nobody reads (logout, demo actions). */
  any: z.unknown(),
} as const;

/**
 * The new commands' requests, checked by the worker before anything reaches the page. The
 * supervisor builds them, but the page runs on what they carry (ids become part of serialized ids).
 */
export const REQUEST_SCHEMAS = {
  send: z
    .object({
      chatId,
      waId,
      text: text(LIMITS.body).min(1).optional(),
      media: media.optional(),
      caption: text(LIMITS.body).nullish(),
      quotedId: messageId.nullish(),
    })
    .refine((r) => (r.text === undefined) !== (r.media === undefined), { message: 'exactly one of text and media' })
    .refine((r) => r.media !== undefined || r.caption == null, { message: 'a caption needs media', path: ['caption'] }),
  find: z.object({ chatId, waId }),
  downloadMedia: z.object({ messageId }),
  demoQuery: z.object({ action: z.string().regex(/^\w{1,32}$/), args: z.array(z.unknown()).default([]) }),
} as const;

/** Why a message was refused, in one line for the log and the instance's error event. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid payload';
  return `${issue.path.length > 0 ? issue.path.join('.') : 'payload'}: ${issue.message}`;
}
