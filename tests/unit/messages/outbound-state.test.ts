import { describe, expect, it } from 'vitest';
import { canMove, isWaiting, OUTBOUND_STATES, receiptMove, stateForAck, WAITING_STATES, type OutboundState } from '../../../src/messages/outbound-state.js';

/** Every allowed move, written out: anything not listed must be refused. */
const ALLOWED: ReadonlyArray<[OutboundState, OutboundState]> = [
  ['queued', 'sending'],
  ['queued', 'failed'],
  ['queued', 'expired'],
  ['sending', 'sending'],
  ['sending', 'sent'],
  ['sending', 'delivered'],
  ['sending', 'read'],
  ['sending', 'failed'],
  ['sending', 'expired'],
  ['sending', 'unknown'],
  ['sent', 'delivered'],
  ['sent', 'read'],
  ['delivered', 'read'],
  ['unknown', 'sent'],
  ['unknown', 'delivered'],
  ['unknown', 'read'],
];

const PAIRS = OUTBOUND_STATES.flatMap((from) => OUTBOUND_STATES.map((to) => [from, to] as const));

describe('canMove', () => {
  it.each(PAIRS)('%s -> %s', (from, to) => {
    expect(canMove(from, to)).toBe(ALLOWED.some(([f, t]) => f === from && t === to));
  });

  it('never moves a message back to queued: a failed attempt stays sending until it is looked up', () => {
    for (const from of OUTBOUND_STATES) expect(canMove(from, 'queued'), from).toBe(false);
  });

  it('lets nothing leave failed, expired or read', () => {
    for (const from of ['failed', 'expired', 'read'] as const) {
      for (const to of OUTBOUND_STATES) expect(canMove(from, to), `${from} -> ${to}`).toBe(false);
    }
  });

  it('lets a message that reached WhatsApp (sent and later) never become expired, failed or unknown', () => {
    for (const from of ['sent', 'delivered', 'read', 'unknown'] as const) {
      for (const to of ['expired', 'failed', 'unknown', 'queued', 'sending'] as const) expect(canMove(from, to), `${from} -> ${to}`).toBe(false);
    }
  });
});

describe('isWaiting', () => {
  it.each(OUTBOUND_STATES.map((s) => [s, s === 'queued' || s === 'sending'] as const))('%s -> %s', (state, waiting) => {
    expect(isWaiting(state)).toBe(waiting);
  });

  it('agrees with WAITING_STATES', () => {
    expect([...WAITING_STATES]).toEqual(OUTBOUND_STATES.filter(isWaiting));
  });
});

describe('stateForAck', () => {
  it.each([
    [-1, null],
    [0, null],
    [1, 'sent'],
    [2, 'delivered'],
    [3, 'read'],
    [4, 'read'],
    [5, null],
    [1.5, null],
    [Number.NaN, null],
  ])('ack %s -> %s', (ack, state) => {
    expect(stateForAck(ack)).toBe(state);
  });
});

describe('receiptMove', () => {
  it.each([
    ['sending', 1, 'sent'],
    ['sending', 2, 'delivered'],
    ['sending', 3, 'read'],
    ['unknown', 1, 'sent'],
    ['unknown', 4, 'read'],
    ['sent', 2, 'delivered'],
    ['sent', 3, 'read'],
    ['delivered', 3, 'read'],
    ['delivered', 4, 'read'],
  ] as const)('%s + ack %i -> %s', (state, ack, to) => {
    expect(receiptMove(state, ack)).toBe(to);
  });

  it.each([
    ['sent', 1, 'the same state again'],
    ['delivered', 1, 'backwards'],
    ['delivered', 2, 'the same state again'],
    ['read', 2, 'backwards'],
    ['read', 4, 'final'],
    ['queued', 1, 'never handed to WhatsApp'],
    ['failed', 2, 'final'],
    ['expired', 3, 'final'],
    ['sending', 0, 'pending proves nothing'],
    ['sent', -1, 'an error ack proves nothing'],
  ] as const)('%s + ack %i -> null (%s)', (state, ack, _why) => {
    expect(receiptMove(state, ack)).toBeNull();
  });

  it('only ever answers a move canMove allows', () => {
    for (const state of OUTBOUND_STATES) {
      for (const ack of [-1, 0, 1, 2, 3, 4]) {
        const to = receiptMove(state, ack);
        if (to !== null) expect(canMove(state, to), `${state} + ${ack}`).toBe(true);
      }
    }
  });
});
