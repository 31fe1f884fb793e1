import type { Connection } from '../db/pool.js';
import { inboundMessages, outboundMessages, type InboundRow, type NewOutbound, type OutboundMove, type OutboundRow } from '../db/messages-repository.js';
import { AppError } from '../errors/index.js';
import type { MessageAckEvent } from '../supervisor/event-bus.js';
import { isWaiting, stateForAck, type OutboundState } from './outbound-state.js';

/*
 * The message changes the journal records, each in the transaction of its entry (with its
 * notifications): accepting a message, moving it through its states, an inbound message, a
 * receipt. The journal owns ordering and outages; this file owns what each change writes.
 */

export type MessageChange =
  /** `existing` is filled in when the idempotency key was used before (the entry then writes nothing). */
  | { kind: 'messageAccept'; message: NewOutbound; queueMax: number; existing?: OutboundRow }
  | { kind: 'messageMove'; messageId: string; move: OutboundMove }
  | { kind: 'inbound'; message: InboundRow }
  /** `notice` is the entry's `message.ack` payload: its `messageId` is filled in when the message is one of ours. */
  | { kind: 'receipt'; waMessageId: string; ack: number; notice: MessageAckEvent };

/** States a receipt may lift a message out of: a receipt proves it reached WhatsApp. */
const RECEIPT_FROM: readonly OutboundState[] = ['sending', 'unknown', 'sent', 'delivered'];
const RANK: Partial<Record<OutboundState, number>> = { sending: 0, unknown: 0, sent: 1, delivered: 2, read: 3 };

/** Writes one message change; 'unchanged' when it wrote nothing (a duplicate, a move that no longer applies). */
export async function applyMessageChange(conn: Connection, instanceId: string, change: MessageChange, at: Date): Promise<'written' | 'unchanged'> {
  switch (change.kind) {
    case 'messageAccept': {
      // Counted inside the transaction that adds to it: two racing sends cannot both pass the bound.
      const waiting = await outboundMessages.countWaiting(conn, instanceId);
      if (waiting >= change.queueMax) {
        throw new AppError('QUEUE_FULL', `${waiting} messages of ${instanceId} are waiting already (MESSAGE_QUEUE_MAX=${change.queueMax})`);
      }
      const result = await outboundMessages.insert(conn, change.message, at);
      if (result === 'inserted') return 'written';
      change.existing = result;
      return 'unchanged';
    }
    case 'messageMove':
      return (await outboundMessages.move(conn, change.messageId, change.move, at)) ? 'written' : 'unchanged';
    case 'inbound':
      return (await inboundMessages.insert(conn, change.message)) ? 'written' : 'unchanged';
    case 'receipt': {
      const row = await outboundMessages.byWaMessageId(conn, instanceId, change.waMessageId);
      if (row) {
        change.notice.messageId = row.id;
        const to = stateForAck(change.ack);
        // Receipts only move forward: a late "delivered" after "read" changes nothing.
        if (to && (RANK[to] ?? 0) > (RANK[row.state] ?? 99) && RECEIPT_FROM.includes(row.state)) {
          let from = row.state;
          // Not yet known as sent (a crash before it was marked, a lookup that could not tell): it was.
          if (isWaiting(from) || from === 'unknown') {
            await outboundMessages.move(conn, row.id, { from: [from], to: 'sent', waMessageId: change.waMessageId }, at);
            from = 'sent';
          }
          if (to !== 'sent') await outboundMessages.move(conn, row.id, { from: [from], to }, at);
        }
      }
      // The receipt is news whether or not it moved a row of ours (the phone's own messages have none).
      return 'written';
    }
  }
}
