/*
 * The life of an outbound message, and the only moves it may make.
 *
 *   queued ──▶ sending ──▶ sent ──▶ delivered ──▶ read
 *     │          │ ▲ (retry)  └──────────────────▶ read
 *     │          ├──▶ delivered | read   (a receipt overtook the send call's answer)
 *     │          ├──▶ failed   (refused outright, or attempts spent: never held by WhatsApp Web)
 *     │          ├──▶ expired  (too old, and a lookup found it absent)
 *     │          └──▶ unknown  (lookups spent, or the session gone: may or may not have been sent)
 *     ├──▶ failed             (refused before any attempt: logged out, banned …)
 *     └──▶ expired            (too old, and never handed to WhatsApp)
 *   unknown ──▶ sent | delivered | read   (a late receipt proves it was sent)
 *
 * A failed attempt stays `sending` until the chat is searched for it: moving it back to `queued`
 * would make a blind resend possible. `expired` promises the recipient did not get it, so a
 * message that may have reached WhatsApp must not expire: a `sending` one may only once a lookup
 * found it absent from the chat (the same proof a retry needs; the caller holds it, this table
 * cannot see it). One that cannot be checked ends `unknown`. `failed`, `expired` and `read` are final.
 */

export const OUTBOUND_STATES = ['queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'expired', 'unknown'] as const;
export type OutboundState = (typeof OUTBOUND_STATES)[number];

/** The states of a message that has not reached WhatsApp for sure: the queue. */
export const WAITING_STATES = ['queued', 'sending'] as const satisfies readonly OutboundState[];

const MOVES: Record<OutboundState, readonly OutboundState[]> = {
  queued: ['sending', 'failed', 'expired'],
  sending: ['sending', 'sent', 'delivered', 'read', 'failed', 'expired', 'unknown'],
  sent: ['delivered', 'read'],
  delivered: ['read'],
  unknown: ['sent', 'delivered', 'read'],
  read: [],
  failed: [],
  expired: [],
};

export function canMove(from: OutboundState, to: OutboundState): boolean {
  return MOVES[from].includes(to);
}

/** True for queued and sending: the message still holds its place in the instance's queue. */
export function isWaiting(state: OutboundState): boolean {
  return (WAITING_STATES as readonly OutboundState[]).includes(state);
}

/**
 * The state a WhatsApp ack reports: 1 reached the server, 2 reached the device, 3 read and
 * 4 played (a voice note) both count as read. 0 (pending) and -1 (error) prove nothing: null.
 */
export function stateForAck(ack: number): 'sent' | 'delivered' | 'read' | null {
  switch (ack) {
    case 1:
      return 'sent';
    case 2:
      return 'delivered';
    case 3:
    case 4:
      return 'read';
    default:
      return null;
  }
}

/** The state a receipt with `ack` moves a message in `current` to; null when it tells nothing new or would move it backwards. */
export function receiptMove(current: OutboundState, ack: number): 'sent' | 'delivered' | 'read' | null {
  const to = stateForAck(ack);
  return to !== null && canMove(current, to) ? to : null;
}
