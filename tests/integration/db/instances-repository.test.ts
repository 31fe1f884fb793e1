import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstancesRepository } from '../../../src/db/instances-repository.js';
import { listEvents } from '../../../src/db/events.js';
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

const toInit = { from: 'DISCONNECTED', to: 'INITIALIZING', reason: 'start', event: { category: 'SESSION', type: 'status' } } as const;

describe('InstancesRepository', () => {
  it('creates, gets and lists instances, recording the creation', async () => {
    const created = await repo.create('sales-01');
    expect(created).toMatchObject({ id: 'sales-01', enabled: true, connectionStatus: 'DISCONNECTED', reconnectAttempts: 0 });
    expect(created.createdAt).toBeInstanceOf(Date);
    await repo.create('sales-02', { enabled: false });
    expect((await repo.list()).map((i) => i.id)).toEqual(['sales-01', 'sales-02']);
    expect((await repo.list({ enabled: true })).map((i) => i.id)).toEqual(['sales-01']);
    expect(await repo.get('nope')).toBeNull();
    expect((await listEvents(db.pool, 'sales-01'))[0]).toMatchObject({ seq: 1, type: 'instance.created' });
  });

  it('refuses a second instance with the same id', async () => {
    await expect(repo.create('sales-01')).rejects.toMatchObject({ code: 'INSTANCE_EXISTS' });
  });

  it('stores timestamps in UTC with milliseconds', async () => {
    const at = new Date('2026-01-15T10:30:45.123Z');
    const fixed = new InstancesRepository(db.pool, () => at);
    await fixed.create('utc-check');
    const [rows] = await db.pool.query<RowDataPacket[]>(
      "SELECT DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s.%f') AS t FROM instances WHERE id = 'utc-check'",
    );
    expect(rows[0]?.t).toBe('2026-01-15 10:30:45.123000');
    expect((await fixed.require('utc-check')).createdAt.toISOString()).toBe(at.toISOString());
  });

  it('records enable and disable once each, and nothing for a repeat', async () => {
    await repo.create('toggle');
    expect((await repo.setEnabled('toggle', false)).changed).toBe(true);
    expect((await repo.setEnabled('toggle', false)).changed).toBe(false);
    expect((await repo.setEnabled('toggle', true)).changed).toBe(true);
    const types = (await listEvents(db.pool, 'toggle')).map((e) => e.type).reverse();
    expect(types).toEqual(['instance.created', 'instance.disabled', 'instance.enabled']);
  });

  it('applies a transition from the expected status, with its event in the same write', async () => {
    await repo.create('t-ok');
    const result = await repo.transition('t-ok', { ...toInit, patch: { reconnectAttempts: 2 } });
    expect(result.applied).toBe(true);
    if (!result.applied) return;
    expect(result.instance).toMatchObject({ connectionStatus: 'INITIALIZING', statusReason: 'start', reconnectAttempts: 2 });
    expect((await listEvents(db.pool, 't-ok'))[0]).toMatchObject({ seq: result.seq, fromStatus: 'DISCONNECTED', toStatus: 'INITIALIZING' });
  });

  it('changes nothing and reports the actual status when the previous status is wrong', async () => {
    await repo.create('t-wrong');
    const before = await repo.require('t-wrong');
    const result = await repo.transition('t-wrong', { ...toInit, from: 'CONNECTED', to: 'DISCONNECTED' });
    expect(result).toEqual({ applied: false, actual: 'DISCONNECTED' });
    expect(await repo.require('t-wrong')).toEqual(before);
    expect(await listEvents(db.pool, 't-wrong')).toHaveLength(1);
  });

  it('reports a missing row as not applied', async () => {
    expect(await repo.transition('ghost', toInit)).toEqual({ applied: false, actual: null });
  });

  it('lets exactly one of two concurrent transitions apply, leaving one event', async () => {
    await repo.create('race');
    const results = await Promise.all([repo.transition('race', toInit), repo.transition('race', { ...toInit, to: 'LOADING' })]);
    expect(results.filter((r) => r.applied)).toHaveLength(1);
    const events = (await listEvents(db.pool, 'race')).filter((e) => e.fromStatus === 'DISCONNECTED');
    expect(events).toHaveLength(1);
  });

  it('keeps event sequence numbers contiguous under concurrent appends', async () => {
    await repo.create('seq');
    await Promise.all(Array.from({ length: 20 }, (_, i) => repo.appendEvent('seq', { category: 'HEALTH', type: `check-${i}` })));
    const seqs = (await listEvents(db.pool, 'seq', 100)).map((e) => e.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
  });
});
