import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../src/api/app.js';
import { closeServer, listen } from '../../../src/api/server.js';
import { Checks } from '../../../src/checks/checks.js';
import { checkSettings } from '../../../src/checks/settings.js';
import { Leases } from '../../../src/cluster/leases.js';
import { Messages } from '../../../src/messages/messages.js';
import { Fleet } from '../../../src/supervisor/fleet.js';
import { createTestDatabase, seedInstances, type TestDatabase } from '../../support/db.js';
import { standInLauncher, testConfig } from '../../support/fleet.js';
import { silentLogger } from '../../support/logger.js';
import { tempSessionRoot } from '../../support/workers.js';

const API_KEY = 'unplaced-test-key-5a4b3c2d1e0f9876';

let db: TestDatabase;
let fleet: Fleet;
let base: string;
let close: () => Promise<void>;

// A node that just (re)started with CLUSTER=on: it runs nothing yet and has read no row, while
// the instance exists and no node holds it (its owner died, nobody claimed it yet).
beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  await seedInstances(db.pool, ['unplaced']);
  const config = testConfig(db.url, tempSessionRoot(), { API_KEY });
  fleet = new Fleet({ config, pool: db.pool, log: silentLogger, launch: standInLauncher, leases: new Leases(config.nodeId, silentLogger) });
  await fleet.start();
  const checks = new Checks({ fleet, log: silentLogger, settings: checkSettings(config) });
  const messages = new Messages({ fleet, pool: db.pool, config, log: silentLogger });
  const app = createApp({ pool: db.pool, fleet, checks, config, log: silentLogger, version: 'test', startedAt: new Date(), shuttingDown: () => false, messages });
  const server = await listen(app, '127.0.0.1', 0);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => closeServer(server);
});
afterAll(async () => {
  await close?.();
  await fleet?.stop();
  await db?.drop();
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; code: string | undefined }> {
  const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json', 'x-api-key': API_KEY }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: json.error?.code };
}

describe('an instance no node runs, asked of a node that never read its row', () => {
  it.each([
    ['GET', '/api/instance/unplaced/qr', undefined],
    ['POST', '/api/instance/unplaced/pairing-code', { phone: '15551234567' }],
    ['POST', '/api/instance/unplaced/messages', { to: '15551234567', text: 'hello' }],
  ])('%s %s is 503 INSTANCE_NOT_PLACED (try again), not 404: the instance exists', async (method, path, body) => {
    expect(await call(method, path, body)).toEqual({ status: 503, code: 'INSTANCE_NOT_PLACED' });
  });

  it('an id the database does not have is still 404 INSTANCE_NOT_FOUND', async () => {
    expect(await call('GET', '/api/instance/never-created/qr')).toEqual({ status: 404, code: 'INSTANCE_NOT_FOUND' });
    expect(await call('POST', '/api/instance/never-created/messages', { to: '15551234567', text: 'hello' })).toEqual({ status: 404, code: 'INSTANCE_NOT_FOUND' });
  });
});
