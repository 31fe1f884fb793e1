import { Checks } from '../../../src/checks/checks.js';
import { checkSettings } from '../../../src/checks/settings.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet } from '../../../src/supervisor/fleet.js';
import { startTestApi, type TestApi } from '../../support/api.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { standInLauncher, testConfig } from '../../support/fleet.js';
import { capturingLogger } from '../../support/logger.js';
import { documentedRoutes } from '../../support/openapi-routes.js';
import { tempSessionRoot } from '../../support/workers.js';
import { createApp } from '../../../src/api/app.js';
import { closeServer, listen } from '../../../src/api/server.js';
import type { AddressInfo } from 'node:net';

const API_KEY = 'auth-test-key-9f8e7d6c5b4a3921';

/** Every route the OpenAPI document lists, except the public liveness probe. */
const ROUTES = documentedRoutes({ id: 'x1', action: 'scan' })
  .filter((r) => !r.public)
  .map((r) => [r.method, r.path] as [string, string]);

let db: TestDatabase;
let fleet: Fleet;
let api: TestApi;
const logs = capturingLogger({ secrets: [API_KEY] });

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  const config = testConfig(db.url, tempSessionRoot(), { API_KEY, API_AUTH_FAILURES_PER_MINUTE: '1000' });
  fleet = new Fleet({ config, pool: db.pool, log: logs.log, launch: standInLauncher });
  await fleet.start();
  const checks = new Checks({ fleet, log: logs.log, settings: checkSettings(config) });
  const app = createApp({ pool: db.pool, fleet, checks, config, log: logs.log, version: 'test', startedAt: new Date(), shuttingDown: () => false });
  const server = await listen(app, '127.0.0.1', 0);
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  api = {
    base,
    key: API_KEY,
    call: async (method, path, body, headers = {}) => {
      const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null, res };
    },
    close: () => closeServer(server),
  };
});
afterAll(async () => {
  await api?.close();
  await fleet?.stop();
  await db?.drop();
});

describe('API authentication', () => {
  it.each(ROUTES)('%s %s without a key is 401', async (method, path) => {
    const r = await api.call(method, path, method === 'GET' || method === 'DELETE' ? undefined : {});
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ error: { code: 'UNAUTHORIZED', message: 'missing or wrong X-API-Key' } });
  });

  it.each(ROUTES)('%s %s with a wrong key is 401', async (method, path) => {
    const r = await api.call(method, path, undefined, { 'x-api-key': `${API_KEY}x` });
    expect(r.status).toBe(401);
  });

  it('lets the liveness probe through without a key, and nothing else', async () => {
    expect((await fetch(`${api.base}/healthz`)).status).toBe(200);
    expect((await api.call('GET', '/metrics')).status).toBe(401);
  });

  it('accepts the right key', async () => {
    expect((await api.call('GET', '/api/health', undefined, { 'x-api-key': API_KEY })).status).toBe(200);
  });

  it('never writes the key to the log', async () => {
    await api.call('GET', '/api/instances', undefined, { 'x-api-key': API_KEY });
    await api.call('GET', `/api/instance/${API_KEY}/details`, undefined, { 'x-api-key': 'wrong' });
    await new Promise((r) => setImmediate(r));
    expect(logs.output()).toContain('rejected a request without a valid API key');
    expect(logs.output()).not.toContain(API_KEY);
  });
});

describe('failed attempts', () => {
  it('are limited per address: past the limit wrong keys get 429, while the right key from that address is still served', async () => {
    const db2 = await createTestDatabase({ migrated: true });
    const config = testConfig(db2.url, tempSessionRoot(), { API_KEY, API_AUTH_FAILURES_PER_MINUTE: '3' });
    const f = new Fleet({ config, pool: db2.pool, log: logs.log, launch: standInLauncher });
    const limited = await startTestApi(f, db2.pool, config);
    try {
      for (let i = 0; i < 3; i++) expect((await limited.call('GET', '/api/health', undefined, { 'x-api-key': 'nope' })).status).toBe(401);
      const blocked = await limited.call('GET', '/api/health', undefined, { 'x-api-key': 'nope' });
      expect(blocked.status).toBe(429);
      expect(blocked.res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await limited.call('GET', '/api/health', undefined, { 'x-api-key': '' })).status).toBe(429);
      // A hostile burst from the operator's own address (the same host, a reverse proxy; the chaos
      // run sends one) must not lock the dashboard and API clients out for a minute.
      expect((await limited.call('GET', '/api/health')).status).toBe(200);
    } finally {
      await limited.close();
      await f.stop();
      await db2.drop();
    }
  });
});
