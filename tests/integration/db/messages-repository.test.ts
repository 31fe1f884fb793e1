import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkSizeFor, MAX_CHUNK_BYTES, readBlob, writeBlob } from '../../../src/db/blob-chunks.js';
import { inboundMessages, outboundMessages, type InboundRow, type NewOutbound } from '../../../src/db/messages-repository.js';
import { inTransaction } from '../../../src/db/pool.js';
import { clientMessageId, serializedOutgoingId } from '../../../src/messages/client-id.js';
import { createTestDatabase, seedInstances, type TestDatabase } from '../../support/db.js';

/*
 * The message tables of sql/007_messages.sql through src/db/messages-repository.ts, on the real
 * server. Each test uses instances of its own, so the tests do not see each other's rows.
 */

const T0 = new Date('2026-03-01T09:00:00.123Z');
const later = (ms: number) => new Date(T0.getTime() + ms);
const MiB = 1024 * 1024;

let db: TestDatabase;
let instanceNo = 0;
/** A fresh instance row, created the way the fleet creates one. */
async function instance(): Promise<string> {
  const id = `msg-${++instanceNo}`;
  await seedInstances(db.pool, [id]);
  return id;
}

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
});
afterAll(async () => {
  await db?.drop();
});

function text(instanceId: string, overrides: Partial<NewOutbound> = {}): NewOutbound {
  const id = randomUUID();
  const waId = clientMessageId(instanceId, id);
  return {
    id,
    instanceId,
    idempotencyKey: null,
    requestHash: 'f'.repeat(64),
    chatId: '4915112345678@c.us',
    kind: 'text',
    body: 'Hallo 👋',
    replyTo: null,
    media: null,
    waId,
    expiresAt: later(86_400_000),
    ...overrides,
  };
}

function withMedia(instanceId: string, data: Buffer): NewOutbound {
  return {
    ...text(instanceId),
    kind: 'media',
    body: 'the caption',
    media: { mimetype: 'application/pdf', filename: 'report.pdf', data, sha256: createHash('sha256').update(data).digest('hex') },
  };
}

function insert(m: NewOutbound, at = T0) {
  return inTransaction(db.pool, (conn) => outboundMessages.insert(conn, m, at));
}

async function chunks(seq: number): Promise<number[]> {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT LENGTH(data) AS n FROM outbound_media WHERE message_seq = ? ORDER BY chunk_no', [seq]);
  return rows.map((r) => Number(r.n));
}

describe('outboundMessages', () => {
  it('inserts a text message queued, and reads every field back as written (UTC, milliseconds)', async () => {
    const inst = await instance();
    const m = text(inst, { idempotencyKey: 'order-1', replyTo: 'false_4915112345678@c.us_3EB0AA', waMessageId: 'true_4915112345678@c.us_X' });
    expect(await insert(m)).toBe('inserted');
    const row = await outboundMessages.byId(db.pool, inst, m.id);
    expect(row).toEqual({
      seq: expect.any(Number),
      id: m.id,
      instanceId: inst,
      idempotencyKey: 'order-1',
      requestHash: m.requestHash,
      chatId: m.chatId,
      kind: 'text',
      body: 'Hallo 👋',
      replyTo: m.replyTo,
      media: null,
      state: 'queued',
      reason: null,
      attempts: 0,
      lookups: 0,
      waId: m.waId,
      waMessageId: 'true_4915112345678@c.us_X',
      createdAt: T0,
      updatedAt: T0,
      sendingAt: null,
      sentAt: null,
      deliveredAt: null,
      readAt: null,
      expiresAt: m.expiresAt,
    });
    expect(await outboundMessages.byId(db.pool, 'another-instance', m.id)).toBeNull();
  });

  it('answers the existing row for a second insert with the same idempotency key, and writes nothing', async () => {
    const inst = await instance();
    const first = text(inst, { idempotencyKey: 'key-1', requestHash: '1'.repeat(64) });
    expect(await insert(first)).toBe('inserted');
    const again = await insert(text(inst, { idempotencyKey: 'key-1', requestHash: '2'.repeat(64) }), later(5000));
    expect(again).toMatchObject({ id: first.id, requestHash: '1'.repeat(64), createdAt: T0 });
    expect(await outboundMessages.countWaiting(db.pool, inst)).toBe(1);
    // The key is per instance, and messages without a key never collide.
    const other = await instance();
    expect(await insert(text(other, { idempotencyKey: 'key-1' }))).toBe('inserted');
    expect(await insert(text(inst))).toBe('inserted');
    expect(await insert(text(inst))).toBe('inserted');
    expect(await outboundMessages.countWaiting(db.pool, inst)).toBe(3);
  });

  it('makes a racing insert with the same key wait for the first and answer its row', async () => {
    const inst = await instance();
    const first = text(inst, { idempotencyKey: 'race' });
    const conn = await db.pool.getConnection();
    try {
      await conn.beginTransaction();
      expect(await outboundMessages.insert(conn, first, T0)).toBe('inserted');
      const second = insert(text(inst, { idempotencyKey: 'race' }));
      await new Promise((r) => setTimeout(r, 300));
      await conn.commit();
      expect(await second).toMatchObject({ id: first.id });
    } finally {
      conn.release();
    }
  });

  it('refuses a message for an instance that does not exist as INSTANCE_NOT_FOUND', async () => {
    await expect(insert(text('no-such-instance'))).rejects.toMatchObject({ code: 'INSTANCE_NOT_FOUND' });
  });

  it('round-trips 5 MiB of media byte-exact through 1 MiB chunks, and drops them on request', async () => {
    const inst = await instance();
    const data = randomBytes(5 * MiB + 123);
    const m = withMedia(inst, data);
    expect(await insert(m)).toBe('inserted');
    const row = (await outboundMessages.byId(db.pool, inst, m.id))!;
    expect(row.media).toEqual({ mimetype: 'application/pdf', filename: 'report.pdf', size: data.length, sha256: m.media!.sha256 });
    expect(await chunks(row.seq)).toEqual([MiB, MiB, MiB, MiB, MiB, 123]);
    expect((await outboundMessages.mediaOf(db.pool, row.seq))!.equals(data)).toBe(true);
    await outboundMessages.dropMedia(db.pool, row.seq);
    expect(await outboundMessages.mediaOf(db.pool, row.seq)).toBeNull();
    expect((await outboundMessages.byId(db.pool, inst, m.id))!.media).toMatchObject({ size: data.length });
  });

  it('round-trips 16 MiB of media with the server’s max_allowed_packet untouched', async () => {
    const inst = await instance();
    const data = randomBytes(16 * MiB);
    const m = withMedia(inst, data);
    expect(await insert(m)).toBe('inserted');
    const row = (await outboundMessages.byId(db.pool, inst, m.id))!;
    const stored = (await outboundMessages.mediaOf(db.pool, row.seq))!;
    expect(stored.length).toBe(data.length);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(m.media!.sha256);
    expect(Math.max(...(await chunks(row.seq)))).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
  }, 120_000);

  it('has no media for a text message', async () => {
    const inst = await instance();
    const m = text(inst);
    await insert(m);
    expect(await outboundMessages.mediaOf(db.pool, (await outboundMessages.byId(db.pool, inst, m.id))!.seq)).toBeNull();
  });

  it('moves only from the given states, stamping the matching time, reason, WhatsApp id and counters', async () => {
    const inst = await instance();
    const m = text(inst);
    await insert(m);
    const move = (to: Parameters<typeof outboundMessages.move>[2], at: Date) => outboundMessages.move(db.pool, m.id, to, at);

    expect(await move({ from: ['queued'], to: 'sending', countAttempt: true }, later(1000))).toBe(true);
    // The same move again finds the row no longer queued.
    expect(await move({ from: ['queued'], to: 'sending', countAttempt: true }, later(1500))).toBe(false);
    expect(await outboundMessages.byId(db.pool, inst, m.id)).toMatchObject({ state: 'sending', attempts: 1, lookups: 0, sendingAt: later(1000), updatedAt: later(1000) });

    expect(await move({ from: ['sending'], to: 'sending', countLookup: true, reason: 'timeout' }, later(2000))).toBe(true);
    expect(await outboundMessages.byId(db.pool, inst, m.id)).toMatchObject({ state: 'sending', attempts: 1, lookups: 1, reason: 'timeout', sendingAt: later(2000) });

    const waMessageId = serializedOutgoingId(m.chatId, m.waId);
    expect(await move({ from: ['sending'], to: 'sent', waMessageId, reason: null }, later(3000))).toBe(true);
    expect(await move({ from: ['sending'], to: 'sent' }, later(3100))).toBe(false);
    expect(await move({ from: ['sent'], to: 'delivered' }, later(4000))).toBe(true);
    expect(await move({ from: ['sent', 'delivered'], to: 'read', reason: 'x'.repeat(300) }, later(5000))).toBe(true);
    const row = await outboundMessages.byWaMessageId(db.pool, inst, waMessageId);
    expect(row).toMatchObject({
      id: m.id,
      state: 'read',
      reason: 'x'.repeat(255),
      waMessageId,
      sendingAt: later(2000),
      sentAt: later(3000),
      deliveredAt: later(4000),
      readAt: later(5000),
      updatedAt: later(5000),
      createdAt: T0,
    });
    expect(await outboundMessages.byWaMessageId(db.pool, 'another-instance', waMessageId)).toBeNull();
    expect(await move({ from: ['read'], to: 'read' }, later(6000)).catch((e: Error) => e.message)).toBe('an outbound message may not move from read to read');
  });

  it('refuses, as a bug, a move outbound-state.ts does not allow', async () => {
    const inst = await instance();
    const m = text(inst);
    await insert(m);
    await expect(outboundMessages.move(db.pool, m.id, { from: ['sending'], to: 'queued' }, T0)).rejects.toThrow('may not move from sending to queued');
    await expect(outboundMessages.move(db.pool, m.id, { from: ['queued', 'sent'], to: 'failed' }, T0)).rejects.toThrow('may not move from sent to failed');
    await expect(outboundMessages.move(db.pool, m.id, { from: [], to: 'failed' }, T0)).rejects.toThrow('may not move from nowhere');
    expect((await outboundMessages.byId(db.pool, inst, m.id))!.state).toBe('queued');
  });

  it('abandons waiting messages: queued -> failed, sending -> unknown, the rest untouched', async () => {
    const inst = await instance();
    const [a, b, c, d] = [text(inst), text(inst), text(inst), text(inst)];
    for (const m of [a, b, c, d]) await insert(m!);
    await outboundMessages.move(db.pool, b!.id, { from: ['queued'], to: 'sending' }, later(10));
    await outboundMessages.move(db.pool, c!.id, { from: ['queued'], to: 'sending' }, later(10));
    await outboundMessages.move(db.pool, c!.id, { from: ['sending'], to: 'sent' }, later(20));
    const other = await instance();
    const elsewhere = text(other);
    await insert(elsewhere);

    const moved = await inTransaction(db.pool, (conn) => outboundMessages.abandonWaiting(conn, inst, 'LOGOUT', later(100)));
    expect(moved).toEqual([
      { id: a!.id, chatId: a!.chatId, from: 'queued', to: 'failed' },
      { id: b!.id, chatId: b!.chatId, from: 'sending', to: 'unknown' },
      { id: d!.id, chatId: d!.chatId, from: 'queued', to: 'failed' },
    ]);
    expect(await outboundMessages.byId(db.pool, inst, a!.id)).toMatchObject({ state: 'failed', reason: 'LOGOUT', updatedAt: later(100) });
    expect(await outboundMessages.byId(db.pool, inst, b!.id)).toMatchObject({ state: 'unknown', reason: 'LOGOUT' });
    expect(await outboundMessages.byId(db.pool, inst, c!.id)).toMatchObject({ state: 'sent', reason: null });
    expect(await outboundMessages.byId(db.pool, other, elsewhere.id)).toMatchObject({ state: 'queued' });
    expect(await inTransaction(db.pool, (conn) => outboundMessages.abandonWaiting(conn, inst, 'LOGOUT', later(200)))).toEqual([]);
  });

  it('keeps the queue in order: head, waiting count, instances with waiting messages, counts by state', async () => {
    const inst = await instance();
    const idle = await instance();
    const ms = [text(inst), text(inst), text(inst)];
    for (const m of ms) await insert(m);
    await insert(text(idle));
    await outboundMessages.move(db.pool, ms[0]!.id, { from: ['queued'], to: 'sending' }, T0);

    expect((await outboundMessages.head(db.pool, inst))!.id).toBe(ms[0]!.id);
    await outboundMessages.move(db.pool, ms[0]!.id, { from: ['sending'], to: 'sent' }, T0);
    expect((await outboundMessages.head(db.pool, inst))!.id).toBe(ms[1]!.id);
    await outboundMessages.move(db.pool, ms[1]!.id, { from: ['queued'], to: 'expired' }, T0);
    expect((await outboundMessages.head(db.pool, inst))!.id).toBe(ms[2]!.id);
    expect(await outboundMessages.countWaiting(db.pool, inst)).toBe(1);
    expect(await outboundMessages.instancesWithWaiting(db.pool)).toEqual(expect.arrayContaining([inst, idle]));

    await outboundMessages.move(db.pool, ms[2]!.id, { from: ['queued'], to: 'failed' }, T0);
    await inTransaction(db.pool, (conn) => outboundMessages.abandonWaiting(conn, idle, 'BANNED', T0));
    expect(await outboundMessages.head(db.pool, inst)).toBeNull();
    expect(await outboundMessages.countWaiting(db.pool, inst)).toBe(0);
    const waiting = await outboundMessages.instancesWithWaiting(db.pool);
    expect(waiting).not.toContain(inst);
    expect(waiting).not.toContain(idle);

    const counts = (await outboundMessages.countsByState(db.pool)).filter((c) => c.instanceId === inst || c.instanceId === idle);
    expect(counts).toHaveLength(4);
    expect(counts).toEqual(
      expect.arrayContaining([
        { instanceId: inst, state: 'expired', count: 1 },
        { instanceId: inst, state: 'failed', count: 1 },
        { instanceId: inst, state: 'sent', count: 1 },
        { instanceId: idle, state: 'failed', count: 1 },
      ]),
    );
  });

  it('lists newest first, pages with a seq cursor, and filters by state', async () => {
    const inst = await instance();
    const ms = Array.from({ length: 5 }, () => text(inst));
    for (const m of ms) await insert(m);
    await outboundMessages.move(db.pool, ms[1]!.id, { from: ['queued'], to: 'failed' }, T0);
    await outboundMessages.move(db.pool, ms[3]!.id, { from: ['queued'], to: 'failed' }, T0);

    const page1 = await outboundMessages.list(db.pool, inst, { limit: 2 });
    expect(page1.map((r) => r.id)).toEqual([ms[4]!.id, ms[3]!.id]);
    const page2 = await outboundMessages.list(db.pool, inst, { limit: 2, before: page1.at(-1)!.seq });
    expect(page2.map((r) => r.id)).toEqual([ms[2]!.id, ms[1]!.id]);
    const page3 = await outboundMessages.list(db.pool, inst, { limit: 2, before: page2.at(-1)!.seq });
    expect(page3.map((r) => r.id)).toEqual([ms[0]!.id]);
    expect((await outboundMessages.list(db.pool, inst, { limit: 10, state: 'failed' })).map((r) => r.id)).toEqual([ms[3]!.id, ms[1]!.id]);
    expect((await outboundMessages.list(db.pool, inst, { limit: 10, state: 'queued', before: page1[0]!.seq })).map((r) => r.id)).toEqual([ms[2]!.id, ms[0]!.id]);
  });
});

function inbound(instanceId: string, waMessageId: string, overrides: Partial<InboundRow> = {}): InboundRow {
  return {
    instanceId,
    waMessageId,
    chatId: '4915112345678@c.us',
    from: '4915112345678@c.us',
    to: '4917600000000@c.us',
    fromMe: false,
    type: 'chat',
    body: 'Moin 🌊',
    waTimestamp: 1_772_355_600,
    hasMedia: false,
    quotedId: null,
    receivedAt: T0,
    ...overrides,
  };
}

describe('inboundMessages', () => {
  it('records a message once: a second delivery of the same WhatsApp id answers false', async () => {
    const inst = await instance();
    const row = inbound(inst, 'false_4915112345678@c.us_3A0001', { quotedId: 'true_4915112345678@c.us_3EB0AA', hasMedia: true, type: 'image' });
    expect(await inTransaction(db.pool, (conn) => inboundMessages.insert(conn, row))).toBe(true);
    expect(await inTransaction(db.pool, (conn) => inboundMessages.insert(conn, { ...row, body: 'changed', receivedAt: later(1000) }))).toBe(false);
    expect(await inboundMessages.byWaMessageId(db.pool, inst, row.waMessageId)).toEqual(row);
    // The same id at another instance is another message.
    const other = await instance();
    expect(await inTransaction(db.pool, (conn) => inboundMessages.insert(conn, { ...row, instanceId: other }))).toBe(true);
    expect(await inboundMessages.byWaMessageId(db.pool, inst, 'false_nobody')).toBeNull();
  });

  it('keeps a duplicate from spoiling the transaction it happened in', async () => {
    const inst = await instance();
    const row = inbound(inst, 'false_4915112345678@c.us_3A0002');
    await inTransaction(db.pool, (conn) => inboundMessages.insert(conn, row));
    await inTransaction(db.pool, async (conn) => {
      expect(await inboundMessages.insert(conn, row)).toBe(false);
      expect(await inboundMessages.insert(conn, inbound(inst, 'false_4915112345678@c.us_3A0003', { fromMe: true, body: null, waTimestamp: null }))).toBe(true);
    });
    expect(await inboundMessages.byWaMessageId(db.pool, inst, 'false_4915112345678@c.us_3A0003')).toMatchObject({ fromMe: true, body: null, waTimestamp: null });
  });

  it('lists newest first with a seq cursor', async () => {
    const inst = await instance();
    for (const n of [1, 2, 3]) await inTransaction(db.pool, (conn) => inboundMessages.insert(conn, inbound(inst, `false_x@c.us_${n}`, { receivedAt: later(n) })));
    const page1 = await inboundMessages.list(db.pool, inst, { limit: 2 });
    expect(page1.map((r) => r.waMessageId)).toEqual(['false_x@c.us_3', 'false_x@c.us_2']);
    expect(page1[0]).toMatchObject({ seq: expect.any(Number), receivedAt: later(3), fromMe: false, hasMedia: false });
    const page2 = await inboundMessages.list(db.pool, inst, { limit: 2, before: page1[1]!.seq });
    expect(page2.map((r) => r.waMessageId)).toEqual(['false_x@c.us_1']);
  });

  it('refuses a message for an instance that does not exist as INSTANCE_NOT_FOUND', async () => {
    await expect(inTransaction(db.pool, (conn) => inboundMessages.insert(conn, inbound('no-such-instance', 'false_y@c.us_1')))).rejects.toMatchObject({ code: 'INSTANCE_NOT_FOUND' });
  });
});

describe('removing an instance', () => {
  it('removes its outbound messages, their media chunks and its inbound messages', async () => {
    const inst = await instance();
    const keep = await instance();
    const m = withMedia(inst, randomBytes(2 * MiB));
    await insert(m);
    await insert(withMedia(keep, randomBytes(10)));
    await inTransaction(db.pool, (conn) => inboundMessages.insert(conn, inbound(inst, 'false_z@c.us_1')));
    const seq = (await outboundMessages.byId(db.pool, inst, m.id))!.seq;
    expect(await chunks(seq)).toHaveLength(2);

    await db.pool.query('DELETE FROM instances WHERE id = ?', [inst]);

    expect(await outboundMessages.byId(db.pool, inst, m.id)).toBeNull();
    expect(await chunks(seq)).toEqual([]);
    expect(await inboundMessages.list(db.pool, inst, { limit: 10 })).toEqual([]);
    expect(await outboundMessages.countWaiting(db.pool, keep)).toBe(1);
  });
});

describe('blob chunks', () => {
  it('sizes a chunk at 1 MiB, or below a smaller max_allowed_packet with room for the statement', () => {
    expect(chunkSizeFor(16 * MiB)).toBe(MiB);
    expect(chunkSizeFor(64 * MiB)).toBe(MiB);
    expect(chunkSizeFor(MiB)).toBeLessThan(MiB);
    expect(chunkSizeFor(MiB)).toBeGreaterThan(MiB - 32 * 1024);
    expect(chunkSizeFor(0)).toBe(1024);
  });

  it('replaces a blob on a second write, and keeps an empty one as empty (not missing)', async () => {
    const inst = await instance();
    const m = withMedia(inst, randomBytes(3 * MiB));
    await insert(m);
    const seq = (await outboundMessages.byId(db.pool, inst, m.id))!.seq;
    const table = { table: 'outbound_media', keyColumn: 'message_seq' };
    const smaller = randomBytes(100);
    await inTransaction(db.pool, (conn) => writeBlob(conn, table, seq, smaller));
    expect(await chunks(seq)).toEqual([100]);
    expect((await readBlob(db.pool, table, seq))!.equals(smaller)).toBe(true);
    await inTransaction(db.pool, (conn) => writeBlob(conn, table, seq, Buffer.alloc(0)));
    expect(await readBlob(db.pool, table, seq)).toEqual(Buffer.alloc(0));
  });

  it('refuses a table or column name that is not a plain identifier', async () => {
    await expect(readBlob(db.pool, { table: 'outbound_media; DROP TABLE x', keyColumn: 'message_seq' }, 1)).rejects.toThrow('not a table or column name');
  });
});
