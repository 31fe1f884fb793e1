import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { inTransaction } from '../../../src/db/pool.js';
import { WebhookDispatcher, type WebhookDispatcherOptions } from '../../../src/webhooks/dispatcher.js';
import { insertNotifications, listFailed, retryDead, type Notification } from '../../../src/webhooks/outbox.js';
import { verifySignature } from '../../../src/webhooks/sign.js';
import { verifyWebhook } from '../../../src/webhooks/verify.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { capturingLogger, silentLogger } from '../../support/logger.js';
import { startReceiver, waitFor, type Receiver, type Respond } from '../../support/webhook-receiver.js';

const SECRET = 'whsec-test-0123456789';

let db: TestDatabase;
const receivers: Receiver[] = [];
const dispatchers: WebhookDispatcher[] = [];

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(async () => {
  await db.pool.query('DELETE FROM webhook_outbox');
  await db.pool.query('DELETE FROM instances');
});
afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.stop(1_000)));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function receiver(respond?: Respond): Promise<Receiver> {
  const r = await startReceiver(respond);
  receivers.push(r);
  return r;
}

/** Test-sized timings: retries after 20 ms, polls every 10 ms, a breaker that stays out of the way. */
function dispatcher(overrides: Partial<WebhookDispatcherOptions> = {}): WebhookDispatcher {
  const d = new WebhookDispatcher({
    pool: db.pool,
    log: silentLogger,
    secret: SECRET,
    maxAttempts: 5,
    baseDelayMs: 20,
    timeoutMs: 2_000,
    pollMs: 10,
    breaker: { failureThreshold: 100, resetTimeoutMs: 60_000 },
    ...overrides,
  });
  dispatchers.push(d);
  return d;
}

function note(instanceId: string | null, n = 0): Notification {
  return { event: 'connection.update', severity: 'LOW', instanceId, payload: { n }, at: new Date() };
}

/** Writes notifications the way the supervisor does, and returns their event ids. */
async function notify(notes: Notification[], globalUrl?: string): Promise<string[]> {
  await inTransaction(db.pool, (conn) => insertNotifications(conn, notes, { globalUrl }));
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT DISTINCT event_id FROM webhook_outbox');
  return rows.map((r) => r.event_id as string);
}

async function countByStatus(): Promise<Record<string, number>> {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT status, COUNT(*) AS n FROM webhook_outbox GROUP BY status');
  return Object.fromEntries(rows.map((r) => [r.status as string, Number(r.n)]));
}

async function allDelivered(): Promise<boolean> {
  const counts = await countByStatus();
  return Object.keys(counts).every((status) => status === 'delivered');
}

describe('WebhookDispatcher', () => {
  it('delivers each event exactly once, signed, to a receiver that fails the first 3 deliveries', async () => {
    const hook = await receiver(({ index }) => (index < 3 ? 500 : 200));
    const ids = await notify([note(null, 1), note(null, 2), note(null, 3)], hook.url);
    const d = dispatcher();
    d.start();
    await waitFor(allDelivered, 'every row delivered');

    expect(hook.received).toHaveLength(6);
    expect([...hook.acceptedCounts().entries()].sort()).toEqual(ids.map((id) => [id, 1]).sort());
    for (const delivery of hook.received) {
      expect(verifyWebhook(SECRET, delivery.headers, delivery.body)).toBe(true);
      expect(verifySignature(delivery.body, delivery.headers['x-webhook-signature'] as string, SECRET)).toBe(true);
      expect(delivery.headers['content-type']).toBe('application/json');
      expect(delivery.headers['x-webhook-event']).toBe('connection.update');
      expect(JSON.parse(delivery.body)).toMatchObject({ id: delivery.eventId, event: 'connection.update', severity: 'LOW', instanceId: null });
    }
    expect(d.stats()).toEqual({ delivered: 3, failed: 3, dead: 0, skippedOpenCircuit: 0 });
  });

  it('dead-letters a row after maxAttempts to a receiver that always fails, logging neither secret nor signature, and retryDead sends it again', async () => {
    const hook = await receiver(() => 500);
    const [eventId] = await notify([note(null)], hook.url);
    const { log, output } = capturingLogger();
    const d = dispatcher({ maxAttempts: 3, log });
    d.start();
    // The counter moves after the row is marked, so wait for both.
    await waitFor(async () => d.stats().dead === 1 && (await listFailed(db.pool, { limit: 10 })).length === 1, 'the row to be dead-lettered');

    const [failed] = await listFailed(db.pool, { limit: 10 });
    expect(failed).toMatchObject({ eventId, url: hook.url, attempts: 3, lastStatusCode: 500, lastError: 'HTTP 500 Internal Server Error' });
    expect(hook.received).toHaveLength(3);
    expect(d.stats()).toMatchObject({ delivered: 0, failed: 3, dead: 1 });
    expect(output()).toMatch(/\[WARN\] \[WEBHOOK\].*dead-lettered/);
    expect(output()).not.toContain(SECRET);
    for (const delivery of hook.received) {
      expect(output()).not.toContain((delivery.headers['x-signature'] as string).split('v1=')[1]);
      expect(output()).not.toContain((delivery.headers['x-webhook-signature'] as string).slice(7));
    }

    hook.respond = () => 200;
    expect(await retryDead(db.pool, failed?.id ?? 0)).toBe(true);
    d.wake();
    await waitFor(allDelivered, 'the retried row to be delivered');
    expect(hook.acceptedCounts()).toEqual(new Map([[eventId, 1]]));
    expect(await listFailed(db.pool, { limit: 10 })).toEqual([]);
  });

  it('loses nothing and sends nothing twice when stopped mid-stream and replaced by a new dispatcher (a restart)', async () => {
    const hook = await receiver(() => new Promise((resolve) => setTimeout(() => resolve(200), 15)));
    const ids = await notify(Array.from({ length: 20 }, (_, n) => note(null, n)), hook.url);
    const before = dispatcher({ batchSize: 4 });
    before.start();
    await waitFor(() => hook.received.length >= 5, 'some deliveries before the restart');
    await before.stop(5_000);
    const sentBefore = hook.received.length;
    expect(sentBefore).toBeLessThan(20);
    expect(await countByStatus()).toMatchObject({ pending: 20 - sentBefore });

    const after = dispatcher({ batchSize: 4 });
    after.start();
    await waitFor(allDelivered, 'the rest delivered after the restart');
    expect(hook.received).toHaveLength(20);
    expect([...hook.acceptedCounts().entries()].sort()).toEqual(ids.map((id) => [id, 1]).sort());
    expect(before.stats().delivered + after.stats().delivered).toBe(20);
  });

  it('resends, with the same event id, a delivery that was in flight when its dispatcher died, once the lease ends', async () => {
    let hang = true;
    const hook = await receiver(() => (hang ? new Promise<number>(() => undefined) : 200));
    const [eventId] = await notify([note(null)], hook.url);
    const dying = dispatcher({ timeoutMs: 10_000, leaseMs: 60_000 });
    dying.start();
    await waitFor(() => hook.received.length === 1, 'the first delivery to reach the receiver');
    await dying.stop(50);
    expect(await countByStatus()).toEqual({ pending: 1 });
    expect(dying.stats()).toEqual({ delivered: 0, failed: 0, dead: 0, skippedOpenCircuit: 0 });

    hang = false;
    const sameClock = dispatcher();
    expect(await sameClock.tick()).toBe(0);
    const afterLease = dispatcher({ now: () => Date.now() + 61_000 });
    expect(await afterLease.tick()).toBe(1);
    expect(hook.received.map((r) => r.eventId)).toEqual([eventId, eventId]);
    expect(hook.acceptedCounts()).toEqual(new Map([[eventId, 1]]));
    const [row] = (await db.pool.query<RowDataPacket[]>('SELECT status, attempts FROM webhook_outbox'))[0];
    expect(row).toMatchObject({ status: 'delivered', attempts: 0 });
  });

  it('never delivers a row twice with two dispatchers running at once', async () => {
    const hooks = await Promise.all([0, 1, 2, 3].map(() => receiver(() => new Promise((resolve) => setTimeout(() => resolve(200), 2)))));
    const global = await receiver();
    for (const [i, hook] of hooks.entries()) await db.pool.query('INSERT INTO instances (id, webhook_url) VALUES (?, ?)', [`i-${i}`, hook.url]);
    const ids = await notify(
      Array.from({ length: 40 }, (_, n) => note(`i-${n % 4}`, n)),
      global.url,
    );
    const a = dispatcher({ batchSize: 3, pollMs: 5 });
    const b = dispatcher({ batchSize: 3, pollMs: 5 });
    a.start();
    b.start();
    await waitFor(allDelivered, 'all 80 rows delivered', 20_000);

    expect([...global.acceptedCounts().entries()].sort()).toEqual(ids.map((id) => [id, 1]).sort());
    expect(global.received).toHaveLength(40);
    for (const hook of hooks) {
      expect(hook.received).toHaveLength(10);
      expect([...hook.acceptedCounts().values()]).toEqual(Array(10).fill(1));
    }
    expect(a.stats().delivered + b.stats().delivered).toBe(80);
  });

  it('sends an instance notification to both the global and the instance URL with one event id, a fleet-wide one to the global URL only, unsigned without a secret', async () => {
    const global = await receiver();
    const own = await receiver();
    await db.pool.query('INSERT INTO instances (id, webhook_url) VALUES (?, ?)', ['shop', own.url]);
    await notify([note('shop'), { ...note(null), event: 'memory.alert', severity: 'HIGH' }], global.url);
    const d = dispatcher({ secret: undefined });
    await d.tick();

    expect(global.received.map((r) => r.headers['x-webhook-event']).sort()).toEqual(['connection.update', 'memory.alert']);
    expect(own.received.map((r) => r.headers['x-webhook-event'])).toEqual(['connection.update']);
    const shopAtGlobal = global.received.find((r) => r.headers['x-webhook-event'] === 'connection.update');
    expect(own.received[0]?.eventId).toBe(shopAtGlobal?.eventId);
    expect(own.received[0]?.body).toBe(shopAtGlobal?.body);
    expect(JSON.parse(own.received[0]?.body ?? '')).toMatchObject({ instanceId: 'shop', data: { n: 0 } });
    for (const r of [...global.received, ...own.received]) {
      expect(r.headers).not.toHaveProperty('x-signature');
      expect(r.headers).not.toHaveProperty('x-webhook-signature');
    }
  });

  it('stops sending to a receiver whose circuit opened, without spending attempts, while another receiver gets everything', async () => {
    const healthy = await receiver();
    const broken = await receiver(() => 503);
    await db.pool.query('INSERT INTO instances (id, webhook_url) VALUES (?, ?)', ['flaky', broken.url]);
    const ids = await notify(Array.from({ length: 6 }, (_, n) => note('flaky', n)), healthy.url);
    const d = dispatcher({ breaker: { failureThreshold: 2, resetTimeoutMs: 60_000 } });
    d.start();
    const brokenRows = async () =>
      (await db.pool.query<RowDataPacket[]>('SELECT status, attempts, next_attempt_at FROM webhook_outbox WHERE url = ?', [broken.url]))[0];
    // Rows still in their short backoff when the circuit opened are pushed out at the next pass that claims them.
    const pushedPastTheTrial = async () =>
      (await brokenRows()).every((r) => r.status === 'pending' && (r.next_attempt_at as Date).getTime() > Date.now() + 30_000);
    await waitFor(async () => healthy.accepted().length === 6 && (await pushedPastTheTrial()), 'the healthy receiver served and the broken one paused');

    expect([...healthy.acceptedCounts().keys()].sort()).toEqual([...ids].sort());
    expect(broken.received).toHaveLength(2);
    expect(d.stats().failed).toBe(2);
    expect(d.stats().skippedOpenCircuit).toBeGreaterThanOrEqual(6);
    expect((await brokenRows()).reduce((sum, r) => sum + Number(r.attempts), 0)).toBe(2);
  });

  it('counts a receiver that does not answer in time as a failed attempt', async () => {
    const silent = await receiver(() => new Promise<number>(() => undefined));
    await notify([note(null)], silent.url);
    const d = dispatcher({ maxAttempts: 1, timeoutMs: 200, leaseMs: 1_000 });
    await d.tick();
    const [failed] = await listFailed(db.pool, { limit: 1 });
    expect(failed).toMatchObject({ attempts: 1, lastError: 'no answer within 200 ms', lastStatusCode: null });
  });

  it('wakes up for a new notification without waiting for the next poll', async () => {
    const hook = await receiver();
    const d = dispatcher({ pollMs: 60_000 });
    d.start();
    // Let the first (empty) pass run, so the loop is asleep for a minute when the notification comes.
    await new Promise((r) => setTimeout(r, 200));
    await notify([note(null)], hook.url);
    d.wake();
    await waitFor(() => hook.accepted().length === 1, 'the woken delivery', 5_000);
  });

  it('refuses options that cannot work, naming the option', () => {
    expect(() => dispatcher({ maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => dispatcher({ timeoutMs: 5_000, leaseMs: 5_000 })).toThrow(/leaseMs/);
    expect(() => dispatcher({ breaker: { failureThreshold: 0, resetTimeoutMs: 1 } })).toThrow(/failureThreshold/);
  });
});
