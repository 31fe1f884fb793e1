import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstancesRepository } from '../../../src/db/instances-repository.js';
import { deadlockRetries } from '../../../src/db/pool.js';
import { FleetEventBus } from '../../../src/supervisor/event-bus.js';
import { creation, Journal } from '../../../src/supervisor/journal.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { silentLogger } from '../../support/logger.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
});
afterAll(async () => {
  await db?.drop();
});

describe('creating many instances at once', () => {
  // Regression: under REPEATABLE READ two creates locked the same empty range of the events
  // index and deadlocked (ER_LOCK_DEADLOCK), found by the rehydrate benchmark.
  it('never deadlocks (no transaction retried as a deadlock victim), and each instance gets its first event', async () => {
    const deadlocksBefore = deadlockRetries();
    const journal = new Journal({ pool: db.pool, bus: new FleetEventBus({ onListenerError: () => undefined }), log: silentLogger });
    const ids = Array.from({ length: 30 }, (_, i) => `burst-${String(i).padStart(2, '0')}`);
    await Promise.all(ids.map((id) => journal.record(creation(id, { enabled: true, webhookUrl: null }), 'refuse')));
    expect((await new InstancesRepository(db.pool).list()).map((r) => r.id)).toEqual(ids);
    const outcomes = await Promise.all(ids.map((id) => journal.record({ instanceId: id, event: { category: 'HEALTH', type: 'check' } })));
    expect(outcomes.every((o) => o === 'written')).toBe(true);
    expect(deadlockRetries() - deadlocksBefore).toBe(0);
    journal.close();
  });
});
