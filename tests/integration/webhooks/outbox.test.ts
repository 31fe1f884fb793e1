import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { inTransaction } from '../../../src/db/pool.js';
import {
  claimDue,
  insertNotifications,
  listFailed,
  markDead,
  markDelivered,
  markFailed,
  releaseClaims,
  retryDead,
  type Notification,
} from '../../../src/webhooks/outbox.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  await db.pool.query('INSERT INTO instances (id, webhook_url) VALUES (?, ?), (?, NULL)', ['with-url', 'http://instance.test/hook', 'no-url']);
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.pool.query('DELETE FROM webhook_outbox');
});

const GLOBAL = 'http://global.test/hook';
const t0 = new Date('2026-01-15T10:00:00.000Z');

function note(instanceId: string | null, overrides: Partial<Notification> = {}): Notification {
  return { event: 'connection.update', severity: 'LOW', instanceId, payload: { status: 'CONNECTED' }, at: t0, ...overrides };
}

function insert(notes: Notification[], globalUrl?: string): Promise<number> {
  return inTransaction(db.pool, (conn) => insertNotifications(conn, notes, { globalUrl }));
}

async function outbox(): Promise<RowDataPacket[]> {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT * FROM webhook_outbox ORDER BY id');
  return rows;
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('insertNotifications', () => {
  it('writes one row per target URL, both rows sharing one fresh v4 event id', async () => {
    expect(await insert([note('with-url')], GLOBAL)).toBe(2);
    const rows = await outbox();
    expect(rows.map((r) => r.url).sort()).toEqual([GLOBAL, 'http://instance.test/hook']);
    expect(rows[0]?.event_id).toMatch(UUID_V4);
    expect(rows[1]?.event_id).toBe(rows[0]?.event_id);
    expect(rows[0]).toMatchObject({ instance_id: 'with-url', event: 'connection.update', severity: 'LOW', status: 'pending', attempts: 0 });
    const payload: unknown = rows[0]?.payload;
    expect(typeof payload === 'string' ? JSON.parse(payload) : payload).toEqual({ status: 'CONNECTED' });
    expect((rows[0]?.created_at as Date).toISOString()).toBe(t0.toISOString());
  });

  it('gives each notification its own event id', async () => {
    await insert([note('no-url'), note('no-url')], GLOBAL);
    const ids = (await outbox()).map((r) => r.event_id);
    expect(new Set(ids).size).toBe(2);
  });

  it('sends a fleet-wide notification (no instance) to the global URL only', async () => {
    expect(await insert([note(null, { event: 'memory.alert', severity: 'MEDIUM' })], GLOBAL)).toBe(1);
    expect((await outbox()).map((r) => [r.url, r.instance_id])).toEqual([[GLOBAL, null]]);
  });

  it('writes nothing for a notification that has no target', async () => {
    expect(await insert([note('no-url'), note(null), note('ghost')])).toBe(0);
    expect(await insert([])).toBe(0);
    expect(await outbox()).toHaveLength(0);
  });

  it('uses the instance URL alone when no global URL is set, and one row when both are the same URL', async () => {
    expect(await insert([note('with-url')])).toBe(1);
    expect(await insert([note('with-url')], 'http://instance.test/hook')).toBe(1);
    expect((await outbox()).map((r) => r.url)).toEqual(['http://instance.test/hook', 'http://instance.test/hook']);
  });

  it('belongs to the caller transaction: rolled back with it, and it sees a URL set earlier in it', async () => {
    await expect(
      inTransaction(db.pool, async (conn) => {
        await insertNotifications(conn, [note('with-url')], { globalUrl: GLOBAL });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await outbox()).toHaveLength(0);

    await inTransaction(db.pool, async (conn) => {
      await conn.query("UPDATE instances SET webhook_url = 'http://new.test/hook' WHERE id = 'no-url'");
      await insertNotifications(conn, [note('no-url')], {});
      await conn.query("UPDATE instances SET webhook_url = NULL WHERE id = 'no-url'");
    });
    expect((await outbox()).map((r) => r.url)).toEqual(['http://new.test/hook']);
  });
});

describe('claims', () => {
  it('claims only due rows, oldest first, up to the limit', async () => {
    await insert([note(null, { at: new Date(t0.getTime() + 2) }), note(null, { at: t0 }), note(null, { at: new Date(t0.getTime() + 60_000) })], GLOBAL);
    const claimed = await claimDue(db.pool, { now: new Date(t0.getTime() + 10), limit: 10, leaseMs: 3_600_000 });
    expect(claimed.map((r) => r.createdAt.getTime() - t0.getTime())).toEqual([0, 2]);
    const limited = await claimDue(db.pool, { now: new Date(t0.getTime() + 120_000), limit: 1, leaseMs: 1_000 });
    expect(limited).toHaveLength(1);
    expect(limited[0]?.createdAt.getTime()).toBe(t0.getTime() + 60_000);
  });

  it('keeps a claimed row from every other claim until its lease ends', async () => {
    await insert([note(null)], GLOBAL);
    const first = await claimDue(db.pool, { now: t0, limit: 10, leaseMs: 1_000 });
    expect(first).toHaveLength(1);
    expect(await claimDue(db.pool, { now: new Date(t0.getTime() + 999), limit: 10, leaseMs: 1_000 })).toHaveLength(0);
    const after = await claimDue(db.pool, { now: new Date(t0.getTime() + 1_000), limit: 10, leaseMs: 1_000 });
    expect(after.map((r) => r.id)).toEqual(first.map((r) => r.id));
    expect(after[0]?.claimToken).not.toBe(first[0]?.claimToken);
  });

  it('never hands the same row to two claims running at once', async () => {
    await insert(Array.from({ length: 30 }, () => note(null)), GLOBAL);
    for (let round = 0; round < 5; round++) {
      await db.pool.query('UPDATE webhook_outbox SET claim_token = NULL, claimed_until = NULL');
      const claims = await Promise.all([1, 2, 3].map(() => claimDue(db.pool, { now: t0, limit: 12, leaseMs: 60_000 })));
      const ids = claims.flat().map((r) => r.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBe(30);
    }
  });

  it('lets only the current claim holder mark a row', async () => {
    await insert([note(null)], GLOBAL);
    const [stale] = await claimDue(db.pool, { now: t0, limit: 1, leaseMs: 10 });
    const [current] = await claimDue(db.pool, { now: new Date(t0.getTime() + 10), limit: 1, leaseMs: 60_000 });
    if (!stale || !current) throw new Error('expected two claims of the row');
    expect(await markDelivered(db.pool, stale, { at: t0, statusCode: 200 })).toBe(false);
    expect(await markFailed(db.pool, stale, { nextAttemptAt: t0, error: 'x', statusCode: 500 })).toBe(false);
    expect(await markDead(db.pool, stale, { error: 'x', statusCode: 500 })).toBe(false);
    expect(await releaseClaims(db.pool, [stale])).toBe(0);
    expect(await markDelivered(db.pool, current, { at: t0, statusCode: 204 })).toBe(true);
    expect((await outbox())[0]).toMatchObject({ status: 'delivered', last_status_code: 204, claim_token: null });
  });

  it('counts a failure, records why, and makes the row due again at the scheduled time', async () => {
    await insert([note(null)], GLOBAL);
    const [row] = await claimDue(db.pool, { now: t0, limit: 1, leaseMs: 60_000 });
    if (!row) throw new Error('expected a claim');
    const retryAt = new Date(t0.getTime() + 5_000);
    expect(await markFailed(db.pool, row, { nextAttemptAt: retryAt, error: 'HTTP 503 '.repeat(200), statusCode: 503 })).toBe(true);
    const [stored] = await outbox();
    expect(stored).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 503, claim_token: null, claimed_until: null });
    expect((stored?.last_error as string).length).toBe(1024);
    expect(await claimDue(db.pool, { now: new Date(retryAt.getTime() - 1), limit: 1, leaseMs: 60_000 })).toHaveLength(0);
    expect((await claimDue(db.pool, { now: retryAt, limit: 1, leaseMs: 60_000 }))[0]?.attempts).toBe(1);
  });

  it('releases rows unsent without counting an attempt, optionally not before a given time', async () => {
    await insert([note(null), note(null)], GLOBAL);
    const rows = await claimDue(db.pool, { now: t0, limit: 2, leaseMs: 60_000 });
    expect(await releaseClaims(db.pool, rows.slice(0, 1))).toBe(1);
    const later = new Date(t0.getTime() + 30_000);
    expect(await releaseClaims(db.pool, rows.slice(1), later)).toBe(1);
    expect((await outbox()).map((r) => [r.attempts, (r.next_attempt_at as Date).toISOString()])).toEqual([
      [0, t0.toISOString()],
      [0, later.toISOString()],
    ]);
  });
});

describe('dead letters', () => {
  it('lists dead rows newest first with the last error, and retryDead puts one back with fresh attempts', async () => {
    await insert([note('no-url', { event: 'first' }), note('no-url', { event: 'second' }), note(null, { event: 'alive' })], GLOBAL);
    const rows = await claimDue(db.pool, { now: t0, limit: 3, leaseMs: 60_000 });
    for (const row of rows.filter((r) => r.event !== 'alive')) {
      await markDead(db.pool, row, { error: 'HTTP 500 Internal Server Error', statusCode: 500 });
    }
    const failed = await listFailed(db.pool, { limit: 10 });
    expect(failed.map((f) => f.event)).toEqual(['second', 'first']);
    expect(failed[0]).toMatchObject({ url: GLOBAL, instanceId: 'no-url', attempts: 1, lastError: 'HTTP 500 Internal Server Error', lastStatusCode: 500 });
    expect(await listFailed(db.pool, { limit: 1 })).toHaveLength(1);

    const id = failed[0]?.id ?? 0;
    const now = new Date(t0.getTime() + 1_000);
    expect(await retryDead(db.pool, id, now)).toBe(true);
    expect(await retryDead(db.pool, id, now)).toBe(false);
    const [back] = await db.pool.query<RowDataPacket[]>('SELECT status, attempts, next_attempt_at FROM webhook_outbox WHERE id = ?', [id]);
    expect(back[0]).toMatchObject({ status: 'pending', attempts: 0, next_attempt_at: now });
  });

  it('refuses to retry a row that is not dead, an unknown id, or a malformed one', async () => {
    await insert([note(null)], GLOBAL);
    const [row] = await claimDue(db.pool, { now: t0, limit: 1, leaseMs: 60_000 });
    if (!row) throw new Error('expected a claim');
    expect(await retryDead(db.pool, row.id)).toBe(false);
    await markDelivered(db.pool, row, { at: t0, statusCode: 200 });
    expect(await retryDead(db.pool, row.id)).toBe(false);
    for (const id of [999_999, 0, -1, 1.5, Number.NaN]) expect(await retryDead(db.pool, id)).toBe(false);
  });
});
