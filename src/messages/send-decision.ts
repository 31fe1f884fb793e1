import type { OutboundState } from './outbound-state.js';

/*
 * What the sender does next with the head of an instance's queue: a pure function of the message,
 * the instance as the fleet sees it now, and the sender's memory of this process's attempts. The
 * one rule it exists for: a message that may have reached WhatsApp (`sending`) is never sent
 * again before WhatsApp Web has been asked whether it holds it, on a page that cannot still be
 * in the middle of that send.
 */

export interface HeadMessage {
  state: OutboundState;
  attempts: number;
  lookups: number;
  expiresAt: number;
}

export interface InstanceNow {
  connected: boolean;
  /** The running worker, or null when there is none. */
  workerPid: number | null;
  /** A no-reconnect reason (LOGOUT, BANNED, …): the phone is gone, nothing more may be sent. */
  blockedBy: string | null;
}

export interface SendContext {
  now: number;
  /** When pacing lets the next send start (`nextSendAt`). */
  pacedUntil: number;
  maxAttempts: number;
  /** The worker pid of this message's last unanswered attempt in this process; null when none. */
  unansweredOnPid: number | null;
}

export type SendStep =
  /** Not now: the instance is not CONNECTED, or pacing says later (`until`). */
  | { kind: 'wait'; until: number | null }
  | { kind: 'send' }
  | { kind: 'lookup' }
  /** The page that got the unanswered attempt still runs: replace it before asking it anything. */
  | { kind: 'restart' }
  | { kind: 'finish'; to: 'failed' | 'expired' | 'unknown'; reason: string };

export function nextStep(head: HeadMessage, instance: InstanceNow, ctx: SendContext): SendStep {
  if (instance.blockedBy) {
    // Queued: certainly never sent. Sending: it may have been, and the session that could tell is gone.
    return head.state === 'queued'
      ? { kind: 'finish', to: 'failed', reason: `the instance was ${instance.blockedBy}` }
      : { kind: 'finish', to: 'unknown', reason: `the instance was ${instance.blockedBy} before the send could be checked` };
  }
  if (head.state === 'queued' && ctx.now >= head.expiresAt) return { kind: 'finish', to: 'expired', reason: 'not sent within SEND_MAX_AGE_MS' };
  if (!instance.connected || instance.workerPid === null) return { kind: 'wait', until: null };
  if (head.state === 'sending') {
    if (ctx.unansweredOnPid !== null && ctx.unansweredOnPid === instance.workerPid) return { kind: 'restart' };
    if (head.lookups >= ctx.maxAttempts) {
      return { kind: 'finish', to: 'unknown', reason: `WhatsApp Web could not say whether it was sent (${head.lookups} lookups)` };
    }
    return { kind: 'lookup' };
  }
  if (head.state !== 'queued') return { kind: 'wait', until: null };
  return ctx.now < ctx.pacedUntil ? { kind: 'wait', until: ctx.pacedUntil } : { kind: 'send' };
}

/** After a lookup said WhatsApp Web does not hold the message: it was never sent, so it may go again, expire or fail. */
export function afterAbsent(head: HeadMessage, ctx: Pick<SendContext, 'now' | 'pacedUntil' | 'maxAttempts'>): SendStep {
  if (head.attempts >= ctx.maxAttempts) return { kind: 'finish', to: 'failed', reason: `not sent after ${head.attempts} attempts` };
  if (ctx.now >= head.expiresAt) return { kind: 'finish', to: 'expired', reason: 'not sent within SEND_MAX_AGE_MS' };
  return ctx.now < ctx.pacedUntil ? { kind: 'wait', until: ctx.pacedUntil } : { kind: 'send' };
}
