import { describe, expect, it } from 'vitest';
import { judgeInbound, judgeSends, pageLineage, receivedHooks, type InboundRecord, type MessageView, type PageEntry, type SendRecord } from '../../../scripts/chaos/message-verdict.js';

const send = (n: number, over: Partial<SendRecord> = {}): SendRecord => ({
  instanceId: 'a',
  key: `k${n}`,
  text: `text ${n}`,
  outcome: 'accepted',
  refusal: null,
  messageId: `m${n}`,
  attempts: 1,
  answersLost: 0,
  retries: [],
  replayed: false,
  ...over,
});
const view = (n: number, status: string, reason: string | null = null): MessageView => ({ id: `m${n}`, status, reason, waMessageId: `w${n}` });
const states = (...views: MessageView[]) => new Map([['a', new Map(views.map((v) => [v.id, v]))]]);
const page = (...entries: PageEntry[]) => new Map([['a', entries]]);
const entry = (n: number, id = `w${n}`): PageEntry => ({ id, body: `text ${n}` });

describe('judgeSends', () => {
  it('passes sends on the page exactly once, failed and expired ones with a reason off it, and counts what it judged', () => {
    const sends = [send(1), send(2), send(3), send(4, { attempts: 3, answersLost: 1, retries: ['ECONNREFUSED', 'timeout'], replayed: true }), send(5, { outcome: 'refused', refusal: '503 DATABASE_UNAVAILABLE', messageId: null })];
    const { violations, evidence } = judgeSends(
      sends,
      states(view(1, 'sent'), view(2, 'read'), view(3, 'failed', 'not sent after 5 attempts'), view(4, 'expired', 'too old')),
      page(entry(1), entry(2)),
    );
    expect(violations).toEqual([]);
    expect(evidence).toMatchObject({
      fired: 5,
      accepted: 4,
      acceptedAfterRetry: 1,
      acceptedAsReplay: 1,
      refused: 1,
      refusedBy: { '503 DATABASE_UNAVAILABLE': 1 },
      answersLost: 1,
      retriedBy: { ECONNREFUSED: 1, timeout: 1 },
      states: { sent: 1, read: 1, failed: 1, expired: 1 },
      onPage: 2,
      pageEntries: 2,
    });
  });

  it('counts an unknown message on the page once as under-reported, and fails one that is not', () => {
    const ok = judgeSends([send(1)], states(view(1, 'unknown', 'could not tell')), page(entry(1)));
    expect(ok.violations).toEqual([]);
    expect(ok.evidence.unknownOnPageOnce).toBe(1);
    const lost = judgeSends([send(1), send(2)], states(view(1, 'unknown', 'could not tell'), view(2, 'sent')), page(entry(2)));
    expect(lost.violations).toEqual(['sends: 1 sends ended unknown and not on the page (its fate untold) (e.g. a "text 1" message m1: could not tell)']);
  });

  it('fails a send on the page twice, even under another id (a duplicate), and the page entry no send explains', () => {
    const twice = judgeSends([send(1)], states(view(1, 'sent')), page(entry(1), entry(1, 'w-other')));
    expect(twice.violations).toEqual(['sends: 1 sends on the page more than once (e.g. a "text 1" ×2 (w1, w-other))']);
    const stray = judgeSends([send(1)], states(view(1, 'sent')), page(entry(1), { id: 'w9', body: 'nobody sent this' }));
    expect(stray.violations).toEqual(['sends: 1 page entries no send of the run explains (e.g. a w9 "nobody sent this")']);
  });

  it('fails sent-but-absent, failed-yet-present, no reason, still queued, unknown to the API, refused-yet-sent and never answered', () => {
    const { violations } = judgeSends(
      [
        send(1),
        send(2),
        send(3),
        send(4),
        send(5),
        send(6, { outcome: 'refused', refusal: '503 DATABASE_UNAVAILABLE', messageId: null }),
        send(7, { outcome: 'unresolved', refusal: 'ECONNRESET', messageId: null, answersLost: 4 }),
        send(8),
      ],
      states(view(1, 'delivered'), view(2, 'failed', 'refused'), view(3, 'expired'), view(4, 'queued'), view(8, 'sent')),
      page(entry(2), entry(6), entry(8, 'w-wrong')),
    );
    expect(violations).toEqual([
      'sends: 1 sends reported sent but not on the page (e.g. a "text 1" message m1 delivered)',
      'sends: 1 sends failed yet on the page (e.g. a "text 2" message m2 failed: refused)',
      'sends: 1 sends expired without a reason (e.g. a "text 3" message m3)',
      'sends: 1 sends still queued after the settle (e.g. a "text 4" message m4)',
      'sends: 1 accepted sends the API does not know (e.g. a "text 5" message m5)',
      'sends: 1 refused sends on the page all the same (e.g. a "text 6" refused 503 DATABASE_UNAVAILABLE)',
      'sends: 1 sends never answered, even retried with their Idempotency-Key (e.g. a "text 7" last ECONNRESET, 0 on the page)',
      'sends: 1 sends on the page under another id than the one reported (e.g. a "text 8" message m8 reports w8, page has w-wrong)',
    ]);
  });

  it('fails a run with nothing to judge', () => {
    expect(judgeSends([send(1, { outcome: 'refused', refusal: '409 NOT_LINKED' })], states(), page()).violations).toEqual([
      'sends: no send was accepted: nothing to judge the page record against',
    ]);
    expect(judgeSends([send(1)], states(view(1, 'failed', 'x')), page()).violations).toEqual(['sends: the page records hold nothing: no send was seen reaching WhatsApp']);
  });
});

const fired = (n: number, over: Partial<InboundRecord> = {}): InboundRecord => ({ instanceId: 'a', body: `in ${n}`, outcome: 'accepted', refusal: null, waId: `x${n}`, ...over });
const hook = (n: number, over: Partial<{ instanceId: string; id: string; body: string | null }> = {}) => ({ instanceId: 'a', id: `x${n}`, body: `in ${n}`, ...over });

describe('judgeInbound', () => {
  it('passes every accepted message delivered, duplicates counted, refusals and lost answers apart', () => {
    const { violations, evidence } = judgeInbound(
      [fired(1), fired(2), fired(3, { outcome: 'refused', refusal: '409 WORKER_NOT_RUNNING', waId: null }), fired(4, { outcome: 'lost', refusal: 'timeout', waId: null })],
      [hook(1), hook(2), hook(2), hook(4, { id: 'x-late' })],
      new Set(),
    );
    expect(violations).toEqual([]);
    expect(evidence).toEqual({
      fired: 4,
      accepted: 2,
      refused: 1,
      refusedBy: { '409 WORKER_NOT_RUNNING': 1 },
      answersLost: 1,
      lostBy: { timeout: 1 },
      deliveries: 4,
      received: 2,
      duplicatesDelivered: 1,
      receivedAfterLostAnswer: 1,
      missing: 0,
    });
  });

  it('fails an accepted message never delivered, one delivered on another instance, a changed body, and a delivery nobody fired', () => {
    const { violations, evidence } = judgeInbound([fired(1), fired(2), fired(3)], [hook(2, { instanceId: 'b' }), hook(3, { body: 'changed' }), hook(9, { id: 'own' }), hook(8)], new Set(['own']));
    expect(evidence.missing).toBe(2);
    expect(violations).toEqual([
      'inbound: 2 accepted inbound messages never delivered to the receiver (e.g. a x1 "in 1"; a x2 "in 2")',
      'inbound: 1 inbound messages delivered with another body (e.g. a x3: "changed" for "in 3")',
      'inbound: 2 received messages nobody fired (e.g. b x2 "in 2"; a x8 "in 8")',
      "inbound: 1 deliveries of the supervisor's own sends as received messages (e.g. a own)",
    ]);
  });

  it('fails a run that accepted nothing', () => {
    expect(judgeInbound([fired(1, { outcome: 'refused', refusal: '409 WORKER_NOT_RUNNING', waId: null })], [], new Set()).violations).toEqual([
      'inbound: no inbound message was accepted by the demo route: nothing to judge the receiver against',
    ]);
  });
});

describe('receivedHooks', () => {
  it('keeps the message.received deliveries, by instance, WhatsApp id and body', () => {
    const bodies = [
      JSON.stringify({ id: 'e1', event: 'message.received', instanceId: 'a', data: { id: 'false_1@c.us_3A1', body: 'hi' } }),
      JSON.stringify({ id: 'e2', event: 'message.status', instanceId: 'a', data: { messageId: 'm1' } }),
      'not json',
    ];
    expect(receivedHooks(bodies)).toEqual([{ instanceId: 'a', id: 'false_1@c.us_3A1', body: 'hi' }]);
  });
});

describe('webhook repeats and supervisor kills', () => {
  it('excuses a repeat only when a supervisor SIGKILL fell between the two acceptances', async () => {
    const { excusedRepeats } = await import('../../../scripts/chaos/invariants.js');
    const accepted = [
      { eventId: 'a', at: 1_000 },
      { eventId: 'a', at: 5_000 },
      { eventId: 'b', at: 1_000 },
      { eventId: 'b', at: 2_000 },
      { eventId: 'c', at: 3_000 },
    ];
    expect(excusedRepeats(accepted, [4_000])).toEqual({ afterKill: 1, unexplained: ['b ×2 at 00:00:01.000, 00:00:02.000'] });
    expect(excusedRepeats(accepted, [])).toEqual({ afterKill: 0, unexplained: ['a ×2 at 00:00:01.000, 00:00:05.000', 'b ×2 at 00:00:01.000, 00:00:02.000'] });
    expect(excusedRepeats(accepted, [1_500, 4_000])).toEqual({ afterKill: 2, unexplained: [] });
  });

  it('excuses a repeat when a node was cut or stopped at any time between the two acceptances', async () => {
    const { excusedRepeats } = await import('../../../scripts/chaos/invariants.js');
    const accepted = [
      { eventId: 'a', at: 1_000 },
      { eventId: 'a', at: 9_000 },
    ];
    expect(excusedRepeats(accepted, [[500, 2_000]])).toEqual({ afterKill: 1, unexplained: [] });
    expect(excusedRepeats(accepted, [[8_000, 20_000]])).toEqual({ afterKill: 1, unexplained: [] });
    expect(excusedRepeats(accepted, [[9_500, 20_000], [0, 900]])).toEqual({ afterKill: 0, unexplained: ['a ×2 at 00:00:01.000, 00:00:09.000'] });
  });
});

describe("an instance's page record over its lives", () => {
  it('holds every arrival any read held, once, in arrival order', () => {
    const before = [
      { id: 'x', body: 's1', at: 10 },
      { id: 'y', body: 's2', at: 20 },
    ];
    // Restored from a backup taken before y arrived; z arrived on the new node.
    const after = [
      { id: 'x', body: 's1', at: 10 },
      { id: 'z', body: 's3', at: 30 },
    ];
    expect(pageLineage([before, after])).toEqual([
      { id: 'x', body: 's1' },
      { id: 'y', body: 's2' },
      { id: 'z', body: 's3' },
    ]);
  });

  it('keeps a second arrival of one id as a second entry, so a resend still shows twice', () => {
    const read = [
      { id: 'x', body: 's1', at: 10 },
      { id: 'x', body: 's1', at: 40, repeat: 2 },
    ];
    expect(pageLineage([read, read])).toHaveLength(2);
    expect(pageLineage([])).toEqual([]);
  });
});
