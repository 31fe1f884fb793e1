import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet } from '../../../src/supervisor/fleet.js';
import { startTestApi, type TestApi } from '../../support/api.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { standInLauncher, testConfig } from '../../support/fleet.js';
import { silentLogger } from '../../support/logger.js';
import { tempSessionRoot } from '../../support/workers.js';

let db: TestDatabase;
let fleet: Fleet;
let api: TestApi;
let shuttingDown = false;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  const config = testConfig(db.url, tempSessionRoot());
  fleet = new Fleet({ config, pool: db.pool, log: silentLogger, launch: standInLauncher });
  await fleet.start();
  api = await startTestApi(fleet, db.pool, config, () => shuttingDown);
});
afterAll(async () => {
  await api?.close();
  await fleet?.stop();
  await db?.drop();
});

describe('during shutdown', () => {
  it('refuses writes with 503 and keeps answering reads', async () => {
    shuttingDown = true;
    const write = await api.call('POST', '/api/instances', { id: 'late' });
    expect(write.status).toBe(503);
    expect(write.json.error.code).toBe('SHUTTING_DOWN');
    expect(write.res.headers.get('retry-after')).toBe('10');
    expect((await api.call('GET', '/api/instances')).status).toBe(200);
    expect(await fleet.repo.get('late')).toBeNull();
  });
});
