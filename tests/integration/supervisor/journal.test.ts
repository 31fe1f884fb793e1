import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEvents } from '../../../src/db/events.js';
import { InstancesRepository } from '../../../src/db/instances-repository.js';
import { createPool, type Pool } from '../../../src/db/pool.js';
import { claimDue } from '../../../src/webhooks/outbox.js';
import { FleetEventBus, type FleetEventArgs } from '../../../src/supervisor/event-bus.js';
import { creation, Journal, type JournalEntry } from '../../../src/supervisor/journal.js';
import { capturingLogger, silentLogger } from '../../support/logger.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

let db: TestDatabase;
let repo: InstancesRepository;
beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  repo = new InstancesRepository(db.pool);
});
afterAll(async () => {
  await db?.drop();
});

function journalOn(pool: Pool, options: Partial<ConstructorParameters<typeof Journal>[0]> = {}) {
  const heard: string[] = [];
  const bus = new FleetEventBus({ onListenerError: () => undefined });
  bus.onAny((...[name, payload]: FleetEventArgs) => void heard.push(`${payload.instanceId ?? '-'} ${name}`));
  const journal = new Journal({ pool, bus, log: silentLogger, retryMs: 200, ...options });
  return { journal, heard };
}

const at = new Date();
const move = (id: string, to: 'INITIALIZING' | 'QR_REQUIRED' | 'CONNECTED', reason: string): JournalEntry => ({
  instanceId: id,
  change: { kind: 'status', to, reason },
  event: { category: 'SESSION', type: 'status.test' },
  notify: [{ name: 'connection.update', payload: { instanceId: id, status: to, previous: null, reason, at } }],
});
const rotation = (id: string, qr: string): JournalEntry => ({
  instanceId: id,
  event: { category: 'SESSION', type: 'qr.rotated' },
  notify: [{ name: 'qrcode.updated', payload: { instanceId: id, qr, at } }],
  coalesce: 'qr',
});

describe('the journal', () => {
  it('writes a row change, its event and its outbox rows in one entry, then announces it', async () => {
    const { journal, heard } = journalOn(db.pool, { globalWebhookUrl: 'http://receiver.invalid/hook' });
    await journal.record(creation('j-one', { enabled: true, webhookUrl: null }), 'refuse');
    journal.track('j-one', 'DISCONNECTED');
    expect(await journal.record(move('j-one', 'INITIALIZING', 'start'))).toBe('written');
    expect(await repo.require('j-one')).toMatchObject({ connectionStatus: 'INITIALIZING', statusReason: 'start' });
    expect((await listEvents(db.pool, 'j-one'))[0]).toMatchObject({ type: 'status.test', fromStatus: 'DISCONNECTED', toStatus: 'INITIALIZING' });
    const [outbox] = await db.pool.query<RowDataPacket[]>("SELECT event FROM webhook_outbox WHERE instance_id = 'j-one'");
    expect(outbox.map((r) => r.event)).toEqual(['connection.update']);
    expect(heard).toEqual(['j-one connection.update']);
    journal.close();
  });

  it('queues an entry\'s notifications to go out in the order recorded, whatever times their payloads carry', async () => {
    const { journal } = journalOn(db.pool, { globalWebhookUrl: 'http://receiver.invalid/order' });
    await journal.record(creation('j-order', { enabled: true, webhookUrl: null }), 'refuse');
    journal.track('j-order', 'INITIALIZING');
    const later = new Date(Date.now() + 5);
    const earlier = new Date(later.getTime() - 5);
    // As a status move announces them: its connection.update first, the QR it came with second (stamped a little earlier).
    await journal.record({
      instanceId: 'j-order',
      change: { kind: 'status', to: 'QR_REQUIRED', reason: 'qr_required' },
      event: { category: 'SESSION', type: 'status.qr' },
      notify: [
        { name: 'connection.update', payload: { instanceId: 'j-order', status: 'QR_REQUIRED', previous: 'INITIALIZING', reason: 'qr_required', at: later } },
        { name: 'qrcode.updated', payload: { instanceId: 'j-order', qr: 'q', at: earlier } },
      ],
    });
    await journal.record(rotation('j-order', 'q2'));
    const claimed = await claimDue(db.pool, { now: new Date(Date.now() + 60_000), limit: 100, leaseMs: 1_000 });
    expect(claimed.filter((r) => r.instanceId === 'j-order').map((r) => r.event)).toEqual(['connection.update', 'qrcode.updated', 'qrcode.updated']);
    journal.close();
  });

  it('corrects a row that moved under it, recording the discrepancy, and refuses a second create', async () => {
    const { journal } = journalOn(db.pool);
    await journal.record(creation('j-moved', { enabled: true, webhookUrl: null }), 'refuse');
    await db.pool.query("UPDATE instances SET connection_status = 'AUTH_FAILURE' WHERE id = 'j-moved'");
    expect(await journal.record(move('j-moved', 'INITIALIZING', 'start'))).toBe('written');
    expect((await repo.require('j-moved')).connectionStatus).toBe('INITIALIZING');
    expect((await listEvents(db.pool, 'j-moved'))[0]?.data).toMatchObject({ discrepancy: { database: 'AUTH_FAILURE', expected: 'DISCONNECTED' } });
    await expect(journal.record(creation('j-moved', { enabled: true, webhookUrl: null }), 'refuse')).rejects.toMatchObject({ code: 'INSTANCE_EXISTS' });
    journal.close();
  });

  it('records enable and disable once each, and announces nothing for a repeat', async () => {
    const { journal, heard } = journalOn(db.pool);
    await journal.record(creation('j-toggle', { enabled: true, webhookUrl: null }), 'refuse');
    const toggle = (enabled: boolean): JournalEntry => ({
      instanceId: 'j-toggle',
      change: { kind: 'enabled', enabled },
      event: { category: 'SESSION', type: enabled ? 'instance.enabled' : 'instance.disabled' },
      notify: [{ name: 'status.instance', payload: { instanceId: 'j-toggle', status: 'DISCONNECTED', health: 'disconnected', reason: String(enabled), at } }],
    });
    expect(await journal.record(toggle(false), 'refuse')).toBe('written');
    expect(await journal.record(toggle(false), 'refuse')).toBe('unchanged');
    expect(await journal.record(toggle(true), 'refuse')).toBe('written');
    expect((await listEvents(db.pool, 'j-toggle')).map((e) => e.type).reverse()).toEqual(['instance.created', 'instance.disabled', 'instance.enabled']);
    expect(heard.filter((h) => h.endsWith('status.instance'))).toHaveLength(2);
    journal.close();
  });

  it('fails a data error on its own entry, logged with the instance id, without opening the circuit for anyone', async () => {
    const logs = capturingLogger();
    const failed: string[] = [];
    const { journal, heard } = journalOn(db.pool, { log: logs.log, onEntryFailed: (id) => void failed.push(id) });
    await journal.record(creation('j-bad', { enabled: true, webhookUrl: null }), 'refuse');
    await journal.record(creation('j-good', { enabled: true, webhookUrl: null }), 'refuse');
    // A category over its VARCHAR(16): ER_DATA_TOO_LONG under the strict SQL mode, three times over.
    for (let i = 0; i < 3; i++) {
      const outcome = await journal.record({ instanceId: 'j-bad', event: { category: 'X'.repeat(300), type: 'too.long' } });
      expect(outcome).toBe('failed');
    }
    expect(journal.databaseUp).toBe(true);
    expect(failed).toEqual(['j-bad', 'j-bad', 'j-bad']);
    expect(logs.output()).toContain('[j-bad]');
    expect(await journal.record(rotation('j-good', 'qr-1'))).toBe('written');
    expect(heard).toContain('j-good qrcode.updated');
    journal.close();
  });

  it('with the database away: announces at once, refuses operator intents, keeps status changes past its bound and coalesces QR rotations', async () => {
    // Nothing listens on port 1: every connection is refused, as with a stopped server.
    const away = createPool({ url: 'mysql://root@127.0.0.1:1/none', size: 2 });
    const { journal, heard } = journalOn(away, { maxPendingPerInstance: 3, retryMs: 60_000 });
    journal.track('j-away', 'QR_REQUIRED');
    expect(await journal.record(rotation('j-away', 'qr-1'))).toBe('deferred');
    expect(journal.databaseUp).toBe(true); // one failure: not an outage yet
    expect(await journal.record(rotation('j-away', 'qr-2'))).toBe('deferred');
    expect(journal.databaseUp).toBe(false);
    await expect(journal.record(creation('j-new', { enabled: true, webhookUrl: null }), 'refuse')).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    const third = journal.record(rotation('j-away', 'qr-3'));
    // Past the bound (3): a newer rotation replaces the newest waiting one; status changes all stay.
    const fourth = journal.record(rotation('j-away', 'qr-4'));
    const statuses = [journal.record(move('j-away', 'INITIALIZING', 'a')), journal.record(move('j-away', 'QR_REQUIRED', 'b'))];
    expect(await third).toBe('coalesced');
    expect(await fourth).toBe('deferred');
    expect(await Promise.all(statuses)).toEqual(['deferred', 'deferred']);
    expect(journal.pendingFor('j-away')).toBe(5);
    expect(heard.filter((h) => h.startsWith('j-away'))).toHaveLength(6);
    expect(await journal.drain(300)).toBe(5);
    journal.close();
    await away.end();
  });
});
