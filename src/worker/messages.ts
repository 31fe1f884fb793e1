import { z } from 'zod';
import { WorkerEvent, type DeepResult, type PingResult } from './protocol.js';

/*
 * What a worker may say, checked at the boundary. A worker runs a browser that runs a page we do
 * not control: its events are input, like an HTTP body. A payload that fails here never reaches
 * the fleet's state, the database or a kill(): it is reported as an error of that one instance.
 * The limits are the columns' (push_name VARCHAR(255), wid VARCHAR(64)) and what a real value
 * needs (a WhatsApp QR is ~250 characters).
 */

export const LIMITS = { qr: 2_048, wid: 64, pushName: 255, reason: 255, message: 8_192 } as const;

const text = (max: number) => z.string().max(max);
const optionalText = (max: number) => text(max).nullish();

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
  /** Replies whose content nobody reads (logout, demo actions). */
  any: z.unknown(),
} as const;

/** Why a message was refused, in one line for the log and the instance's error event. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid payload';
  return `${issue.path.length > 0 ? issue.path.join('.') : 'payload'}: ${issue.message}`;
}
