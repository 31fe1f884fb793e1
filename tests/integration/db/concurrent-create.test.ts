import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstancesRepository } from '../../../src/db/instances-repository.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';

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
  it('never deadlocks, and each instance gets its first event', async () => {
    const repo = new InstancesRepository(db.pool);
    const ids = Array.from({ length: 30 }, (_, i) => `burst-${String(i).padStart(2, '0')}`);
    await Promise.all(ids.map((id) => repo.create(id)));
    expect((await repo.list()).map((r) => r.id)).toEqual(ids);
    await Promise.all(ids.map((id) => repo.appendEvent(id, { category: 'HEALTH', type: 'check' })));
  });
});
