import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Leases } from '../../../src/cluster/leases.js';
import { idleTransactionTimeoutS } from '../../../src/cluster/placement.js';
import { clusterRows } from '../../../src/db/cluster-repository.js';
import { createPool, idleTransactionLimit } from '../../../src/db/pool.js';
import { FleetEventBus } from '../../../src/supervisor/event-bus.js';
import { Journal } from '../../../src/supervisor/journal.js';
import { createTestDatabase, seedInstances, type TestDatabase } from '../../support/db.js';
import { capturingLogger, silentLogger } from '../../support/logger.js';

/* Leases, claims and the journal's fencing on the real server (sql/009_cluster.sql). */

let db: TestDatabase;
const TTL = 60_000;
const journalLog = capturingLogger({ level: "error", format: "json" });

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
});
afterAll(async () => {
  await db.drop();
});

async function resetInstances(ids: string[]): Promise<void> {
  await db.pool.query('DELETE FROM instances');
  await seedInstances(db.pool, ids);
}

const register = (id: string) => clusterRows.register(db.pool, { id, url: `http://${id}`, incarnation: id.padEnd(32, '0'), maxInstances: 50, leaseTtlMs: TTL, version: 'test' });

function journalFor(leases: Leases | null) {
  return new Journal({ pool: db.pool, bus: new FleetEventBus({ onListenerError: () => undefined }), log: journalLog.log, fence: leases });
}

async function statusOf(id: string): Promise<string> {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT connection_status FROM instances WHERE id = ?', [id]);
  return rows[0]!.connection_status as string;
}

/** Makes every lease of `node` lapse now, as if it had stopped renewing a TTL ago. */
async function lapse(node: string): Promise<void> {
  await db.pool.query('UPDATE instances SET lease_until = DATE_SUB(NOW(3), INTERVAL 1 SECOND) WHERE owner_node = ?', [node]);
}

describe('claims', () => {
  beforeEach(async () => {
    await resetInstances(Array.from({ length: 10 }, (_, i) => `i-${String(i).padStart(2, '0')}`));
  });

  it('two nodes claiming at once take disjoint sets that cover every free instance, each at epoch 1', async () => {
    const [a, b] = await Promise.all([clusterRows.claim(db.pool, 'a', TTL, 10), clusterRows.claim(db.pool, 'b', TTL, 10)]);
    const ids = [...a, ...b].map((c) => c.id).sort();
    expect(ids).toHaveLength(10);
    expect(new Set(ids).size).toBe(10);
    expect([...a, ...b].every((c) => c.epoch === 1 && c.from === null)).toBe(true);
    expect(await clusterRows.freeCount(db.pool)).toBe(0);
  });

  it('a disabled instance is never claimed; a lapsed lease is, under a higher epoch and naming the old owner', async () => {
    await db.pool.query("UPDATE instances SET enabled = 0 WHERE id = 'i-00'");
    const first = await clusterRows.claim(db.pool, 'a', TTL, 100);
    expect(first.map((c) => c.id)).not.toContain('i-00');
    expect(await clusterRows.claim(db.pool, 'b', TTL, 100)).toEqual([]);
    await lapse('a');
    const second = await clusterRows.claim(db.pool, 'b', TTL, 3);
    expect(second).toEqual([
      { id: 'i-01', epoch: 2, from: 'a' },
      { id: 'i-02', epoch: 2, from: 'a' },
      { id: 'i-03', epoch: 2, from: 'a' },
    ]);
  });

  it("renewal extends only live leases and reads back each one's epoch; a node's restart gives its leases back", async () => {
    await register('a');
    await clusterRows.claim(db.pool, 'a', TTL, 4);
    await lapse('a');
    await clusterRows.claim(db.pool, 'a', TTL, 2); // i-00 and i-01 again, at epoch 2; i-02 and i-03 stay lapsed
    expect(await clusterRows.renew(db.pool, 'a', TTL)).toEqual(new Map([['i-00', 2], ['i-01', 2]]));
    expect(await register('a')).toBe(4); // every row it still named, lapsed ones included
    expect(await clusterRows.renew(db.pool, 'a', TTL)).toEqual(new Map());
    expect(await clusterRows.freeCount(db.pool)).toBe(10);
  });
});

describe('fencing in the journal', () => {
  beforeEach(async () => {
    await resetInstances(['fenced']);
  });

  it("the owner's writes pass; once another node claimed the lapsed lease they are refused, counted, and change nothing", async () => {
    const log = capturingLogger({ level: 'warn', format: 'json' });
    const a = new Leases('a', log.log);
    const [claim] = await clusterRows.claim(db.pool, 'a', TTL, 1);
    a.hold(claim!.id, claim!.epoch);
    const journal = journalFor(a);
    journal.track('fenced', 'DISCONNECTED');
    const written = await journal.record({ instanceId: 'fenced', change: { kind: 'status', to: 'INITIALIZING', reason: 'start' } });
    expect(written, journalLog.output()).toBe('written');
    expect(await statusOf('fenced')).toBe('INITIALIZING');

    await lapse('a');
    const [taken] = await clusterRows.claim(db.pool, 'b', TTL, 1);
    expect(taken).toEqual({ id: 'fenced', epoch: 2, from: 'a' });
    const [events] = await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM instance_events');
    expect(await journal.record({ instanceId: 'fenced', change: { kind: 'status', to: 'CONNECTED', reason: 'ready' }, event: { category: 'SESSION', type: 'status' } })).toBe('failed');
    expect(await journal.record({ instanceId: 'fenced', change: { kind: 'health', health: 'healthy', reason: null } })).toBe('failed');
    expect(await statusOf('fenced')).toBe('INITIALIZING');
    const [after] = await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM instance_events');
    expect(Number(after[0]!.n)).toBe(Number(events[0]!.n));
    expect(a.stats.fencingRefusals).toBe(2);
    expect(log.output().match(/write refused by fencing/g)).toHaveLength(2);
    journal.close();
  });

  it("a lapsed lease nobody claimed yet is refused too, and an operator's intent (enable) is written whoever holds it", async () => {
    const a = new Leases('a', silentLogger);
    const [claim] = await clusterRows.claim(db.pool, 'a', TTL, 1);
    a.hold(claim!.id, claim!.epoch);
    const journal = journalFor(a);
    journal.track('fenced', 'DISCONNECTED');
    await lapse('a');
    expect(await journal.record({ instanceId: 'fenced', change: { kind: 'status', to: 'INITIALIZING', reason: 'start' } })).toBe('failed');
    expect(await journal.record({ instanceId: 'fenced', change: { kind: 'enabled', enabled: false } }, 'refuse')).toBe('written');
    journal.close();
  });

  it('an inbound message is recorded by a node that lost its lease (a fact the phone reported, kept once per WhatsApp id), and a repeat from the new owner adds nothing', async () => {
    const a = new Leases('a', silentLogger);
    const [claim] = await clusterRows.claim(db.pool, 'a', TTL, 1);
    a.hold(claim!.id, claim!.epoch);
    const journal = journalFor(a);
    journal.track('fenced', 'DISCONNECTED');
    await db.pool.query("UPDATE instances SET webhook_url = 'http://127.0.0.1:9/hook' WHERE id = 'fenced'");
    await lapse('a');
    await clusterRows.claim(db.pool, 'b', TTL, 1);
    const message = { instanceId: 'fenced', waMessageId: 'false_1555@c.us_LOST', chatId: '1555@c.us', from: '1555@c.us', to: 'me@c.us', fromMe: false, type: 'chat', body: 'held through the cut', waTimestamp: 1, hasMedia: false, quotedId: null, receivedAt: new Date() };
    const entry = { instanceId: 'fenced', change: { kind: 'inbound' as const, message }, notify: [{ name: 'message.received' as const, payload: { instanceId: 'fenced', id: message.waMessageId, at: message.receivedAt } as never }] };
    expect(await journal.record(entry)).toBe('written');
    expect(a.stats.fencingRefusals).toBe(0);
    const b = new Leases('b', silentLogger);
    b.hold('fenced', 2);
    const owner = journalFor(b);
    owner.track('fenced', 'DISCONNECTED');
    expect(await owner.record(entry)).toBe('unchanged');
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM inbound_messages WHERE wa_message_id = ?', [message.waMessageId]);
    expect(Number(rows[0]!.n)).toBe(1);
    const [notes] = await db.pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM webhook_outbox WHERE event = 'message.received' AND instance_id = 'fenced'");
    expect(Number(notes[0]!.n)).toBe(1);
    journal.close();
    owner.close();
  });

  it('a node that holds no lease for the instance is refused without asking (its stale handle after a loss)', async () => {
    const a = new Leases('a', silentLogger);
    const journal = journalFor(a);
    journal.track('fenced', 'DISCONNECTED');
    expect(await journal.record({ instanceId: 'fenced', change: { kind: 'status', to: 'INITIALIZING', reason: 'start' } })).toBe('failed');
    expect(await statusOf('fenced')).toBe('DISCONNECTED');
    expect(a.stats.fencingRefusals).toBe(1);
    journal.close();
  });
});

describe('a node paused inside a transaction', () => {
  it('holds the row it locked only until the server ends its idle transaction; then a survivor claims the instance', async () => {
    await resetInstances(['held', 'other']);
    // The paused node's pool, as CLUSTER=on builds it for a 3 s TTL: the server ends its idle transaction after 1 s.
    const paused = createPool({ url: db.url, size: 1, idleTransactionTimeoutS: idleTransactionTimeoutS(3_000) });
    try {
      expect(await idleTransactionLimit(paused)).toBe(1);
      await clusterRows.claim(paused, 'paused', TTL, 2);
      await lapse('paused');
      const conn = await paused.getConnection();
      await conn.beginTransaction();
      await conn.query("SELECT id FROM instances WHERE id = 'held' FOR UPDATE"); // the journal's fencing lock, then SIGSTOP
      expect((await clusterRows.claim(db.pool, 'survivor', TTL, 10)).map((c) => c.id)).toEqual(['other']); // SKIP LOCKED passes it by
      let claimed: string[] = [];
      const deadline = Date.now() + 5_000;
      while (claimed.length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        claimed = (await clusterRows.claim(db.pool, 'survivor', TTL, 10)).map((c) => c.id);
      }
      expect(claimed).toEqual(['held']);
      // Thawed, the paused node's transaction is gone: its next statement fails instead of writing.
      await expect(conn.query("UPDATE instances SET connection_status = 'CONNECTED' WHERE id = 'held'")).rejects.toThrow();
      conn.release();
      expect(await statusOf('held')).toBe('DISCONNECTED');
    } finally {
      await paused.end();
    }
  });
});

describe('nodes', () => {
  it('a node whose heartbeat is older than its TTL is marked down once, by the first survivor that looks', async () => {
    await register('alive');
    await register('dead');
    await db.pool.query("UPDATE nodes SET heartbeat_at = DATE_SUB(NOW(3), INTERVAL 2 MINUTE) WHERE id = 'dead'");
    const [first, second] = await Promise.all([clusterRows.markDead(db.pool), clusterRows.markDead(db.pool)]);
    expect([...first, ...second].map((d) => d.id)).toEqual(['dead']);
    const nodes = (await clusterRows.nodes(db.pool)).filter((n) => n.id === 'alive' || n.id === 'dead');
    expect(nodes.map((n) => [n.id, n.state, n.alive])).toEqual([
      ['alive', 'up', true],
      ['dead', 'down', false],
    ]);
  });

  it('a second process under the same NODE_ID takes the row over: the first one’s heartbeat is refused', async () => {
    await register('twin');
    expect(await clusterRows.heartbeat(db.pool, 'twin', 'twin'.padEnd(32, '0'), 'up')).toBe(true);
    await clusterRows.register(db.pool, { id: 'twin', url: 'http://twin2', incarnation: 'x'.repeat(32), maxInstances: 5, leaseTtlMs: TTL, version: 'test' });
    expect(await clusterRows.heartbeat(db.pool, 'twin', 'twin'.padEnd(32, '0'), 'up')).toBe(false);
  });
});
