import { describe, expect, it } from 'vitest';
import { checkAnnounced, checkPageRecord, inboundVerdict, percentile, perSecond, spread, type Arrival } from '../../../scripts/bench/support/message-stats.js';

describe('percentile (nearest rank)', () => {
  it('takes the value at rank ceil(p/100 × n) of the sorted values', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted on purpose
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 0)).toBe(1);
    const twoHundred = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(percentile(twoHundred, 99)).toBe(198);
  });

  it('gives one value for one sample, null for none, and refuses a p outside 0…100', () => {
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNull();
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });

  it('does not reorder its input', () => {
    const values = [3, 1, 2];
    percentile(values, 50);
    expect(values).toEqual([3, 1, 2]);
  });

  it('spread: samples, p50, p99 and max', () => {
    expect(spread([5, 1, 9, 3])).toEqual({ samples: 4, p50: 3, p99: 9, max: 9 });
    expect(spread([])).toEqual({ samples: 0, p50: null, p99: null, max: null });
  });
});

describe('perSecond', () => {
  it('is count over the span in seconds, null for an empty span', () => {
    expect(perSecond(200, 4_000)).toBe(50);
    expect(perSecond(10, 0)).toBeNull();
    expect(perSecond(10, -5)).toBeNull();
  });
});

describe('inboundVerdict', () => {
  const idle = { maxLoad: 0.5, cores: 2 };

  it('passes strictly under the target and fails at or over it', () => {
    expect(inboundVerdict(249.9, 250, idle)).toMatchObject({ ok: true });
    expect(inboundVerdict(249.9, 250, idle).line).toBe('VERDICT inbound event → webhook p99 < 250 ms: PASS (p99 249.9 ms)');
    expect(inboundVerdict(250, 250, idle)).toMatchObject({ ok: false });
    expect(inboundVerdict(900, 250, idle).line).toContain(': FAIL (p99 900.0 ms)');
  });

  it('fails without samples', () => {
    expect(inboundVerdict(null, 250, idle)).toEqual({ ok: false, line: 'VERDICT inbound event → webhook p99 < 250 ms: FAIL (no samples)' });
  });

  it('says when the machine was not idle, without changing the verdict', () => {
    const busy = inboundVerdict(100, 250, { maxLoad: 7.5, cores: 2 });
    expect(busy.ok).toBe(true);
    expect(busy.line).toContain('not an idle machine: 1-minute load average up to 7.50 on 2 cores');
  });
});

describe('checkPageRecord', () => {
  const accepted = [
    { messageId: 'm1', waMessageId: 'true_1@c.us_A', body: 'one' },
    { messageId: 'm2', waMessageId: 'true_1@c.us_B', body: 'two' },
  ];

  it('finds nothing wrong when each message is on the page once with its text', () => {
    expect(checkPageRecord('i', accepted, [{ id: 'true_1@c.us_B', body: 'two' }, { id: 'true_1@c.us_A', body: 'one' }])).toEqual([]);
  });

  it('reports a message missing, doubled, with another text, and one the bench never sent', () => {
    expect(checkPageRecord('i', accepted, [{ id: 'true_1@c.us_B', body: 'two' }])).toEqual([
      'i: 1 of 2 accepted messages never reached the page (e.g. message m1 / true_1@c.us_A)',
    ]);
    expect(checkPageRecord('i', accepted, [{ id: 'true_1@c.us_A', body: 'one' }, { id: 'true_1@c.us_A', body: 'one' }, { id: 'true_1@c.us_B', body: 'two' }])).toEqual([
      'i: 1 messages are on the page more than once (e.g. message m1 / true_1@c.us_A)',
    ]);
    expect(checkPageRecord('i', accepted, [{ id: 'true_1@c.us_A', body: 'one' }, { id: 'true_1@c.us_B', body: 'changed' }])).toEqual([
      'i: 1 messages reached the page with another text',
    ]);
    expect(checkPageRecord('i', accepted, [{ id: 'true_1@c.us_A', body: 'one' }, { id: 'true_1@c.us_B', body: 'two' }, { id: 'x', body: 'stray' }])).toEqual([
      'i: 1 messages on the page that the bench never sent',
    ]);
  });
});

describe('checkAnnounced', () => {
  const arrival = (eventId: string): Arrival => ({ eventId, event: 'message.status', data: {} });

  it('accepts one event per key, a resend of the same event id included', () => {
    const arrivals = new Map([
      ['a', [arrival('e1')]],
      ['b', [arrival('e2'), arrival('e2')]],
    ]);
    expect(checkAnnounced('sent', ['a', 'b'], arrivals)).toEqual([]);
  });

  it('reports a key that never arrived and one announced under two event ids', () => {
    const arrivals = new Map([['b', [arrival('e2'), arrival('e3')]]]);
    expect(checkAnnounced('sent', ['a', 'b'], arrivals)).toEqual(['sent: 1 of 2 never arrived (e.g. a)', 'sent: 1 announced more than once (distinct event ids)']);
  });
});
