import { Checks } from '../../../src/checks/checks.js';
import { checkSettings } from '../../../src/checks/settings.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
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
import { Messages } from '../../../src/messages/messages.js';

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
  const app = createApp({ pool: db.pool, fleet, checks, config, log: logs.log, version: 'test', startedAt: new Date(), shuttingDown: () => false, messages: new Messages({ fleet: fleet, pool: db.pool, config: config, log: logs.log }) });
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

/** An API over this file's fleet with its own settings (and so its own failed-attempt counts). */
async function limitedApi(overrides: Record<string, string>): Promise<TestApi> {
  return startTestApi(fleet, db.pool, testConfig(db.url, tempSessionRoot(), { API_KEY, ...overrides }));
}

const get = (a: TestApi, path: string, headers: Record<string, string>) => a.call('GET', path, undefined, headers);
const wrong = { 'x-api-key': 'nope' };
const right = { 'x-api-key': API_KEY };

describe('failed attempts', () => {
  // The window is a minute of Date.now(): the clock is moved with vi.setSystemTime (Date only; timers stay real).
  afterEach(() => {
    vi.useRealTimers();
  });

  it('past the limit every request from the address is 429, the right key included, until the window passes', async () => {
    const limited = await limitedApi({ API_AUTH_FAILURES_PER_MINUTE: '10' });
    try {
      const start = Date.now();
      const statuses = new Map<number, number>();
      for (let i = 0; i < 200; i++) {
        const r = await get(limited, '/api/health', wrong);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
      const end = Date.now();
      expect(Object.fromEntries(statuses)).toEqual({ 401: 10, 429: 190 });
      // The right key is not even compared while the address is over the limit (guessing must be slowed).
      const blocked = await get(limited, '/api/health', right);
      expect(blocked.status).toBe(429);
      expect(blocked.json).toEqual({ error: { code: 'TOO_MANY_ATTEMPTS', message: 'too many failed API key attempts; wait a minute' } });
      expect(Number(blocked.res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(blocked.res.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      expect((await get(limited, '/api/health', { 'x-api-key': '' })).status).toBe(429);
      expect((await limited.call('POST', '/api/events/token', undefined, right)).status).toBe(429);

      vi.setSystemTime(start + 30_000);
      const later = await get(limited, '/api/health', right);
      expect(later.status).toBe(429);
      const retryAfter = Number(later.res.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(30);
      expect(retryAfter).toBeLessThanOrEqual(30 + Math.ceil((end - start) / 1000));

      vi.setSystemTime(end + 60_000);
      expect((await get(limited, '/api/health', right)).status).toBe(200);
      // A new window: a wrong key is a plain 401 again.
      expect((await get(limited, '/api/health', wrong)).status).toBe(401);
    } finally {
      await limited.close();
    }
  });

  it('counts a bad or expired SSE stream token as a failed attempt', async () => {
    const limited = await limitedApi({ API_AUTH_FAILURES_PER_MINUTE: '3' });
    const token = async () => (await limited.call('POST', '/api/events/token', undefined, right)).json.token as string;
    const stream = (t: string) => fetch(`${limited.base}/api/events?token=${t}`);
    try {
      const t0 = Date.now();
      vi.setSystemTime(t0 - 5 * 60_000);
      const expired = await token(); // its five minutes end at t0
      vi.setSystemTime(t0 + 1);
      const valid = await token();
      for (const t of [expired, 'forged', 'also-forged']) {
        const r = await stream(t);
        expect(r.status, t).toBe(401);
        expect(await r.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: 'stream token unknown, spent or expired' } });
      }
      // Three failures: the address is over the limit, for a valid token and the right key alike.
      const withValid = await stream(valid);
      await withValid.body?.cancel(); // were it served, the stream would stay open
      expect(withValid.status).toBe(429);
      expect((await get(limited, '/api/health', right)).status).toBe(429);
    } finally {
      await limited.close();
    }
  });
});

describe('client address', () => {
  const from = (address: string, headers: Record<string, string> = right) => ({ ...headers, 'x-forwarded-for': address });

  it('with TRUSTED_PROXIES=127.0.0.1, X-Forwarded-For decides the bucket (IPv6 by its /64, IPv4-mapped as IPv4)', async () => {
    const limited = await limitedApi({ API_AUTH_FAILURES_PER_MINUTE: '3', TRUSTED_PROXIES: '127.0.0.1' });
    try {
      for (let i = 0; i < 3; i++) expect((await get(limited, '/api/health', from('203.0.113.5', wrong))).status).toBe(401);
      expect((await get(limited, '/api/health', from('203.0.113.5'))).status).toBe(429);
      expect((await get(limited, '/api/health', from('203.0.113.6'))).status).toBe(200);
      // The proxy's own address (no header) is another client.
      expect((await get(limited, '/api/health', right)).status).toBe(200);
      // Through more trusted hops the client is still the one the first proxy saw...
      expect((await get(limited, '/api/health', from('203.0.113.5, 127.0.0.1'))).status).toBe(429);
      // ...and a forged entry left of an untrusted hop does not choose the bucket.
      expect((await get(limited, '/api/health', from('203.0.113.5, 198.51.100.1'))).status).toBe(200);

      for (const address of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff:ffff:ffff:ffff']) {
        expect((await get(limited, '/api/health', from(address, wrong))).status).toBe(401);
      }
      expect((await get(limited, '/api/health', from('2001:db8:1:2::abcd'))).status).toBe(429);
      expect((await get(limited, '/api/health', from('2001:db8:1:3::1'))).status).toBe(200);

      for (let i = 0; i < 3; i++) expect((await get(limited, '/api/health', from('::ffff:198.51.100.9', wrong))).status).toBe(401);
      expect((await get(limited, '/api/health', from('198.51.100.9'))).status).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it('without TRUSTED_PROXIES ignores X-Forwarded-For: every request counts against the socket address', async () => {
    const limited = await limitedApi({ API_AUTH_FAILURES_PER_MINUTE: '3' });
    try {
      for (const address of ['203.0.113.5', '203.0.113.6', '2001:db8:9::1']) {
        expect((await get(limited, '/api/health', from(address, wrong))).status).toBe(401);
      }
      expect((await get(limited, '/api/health', from('198.51.100.200'))).status).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
