import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { adminKeyDigest, scopeAllows } from '../../../src/api/auth.js';
import { ScopedKeys } from '../../../src/api/scoped-keys.js';
import type { Pool } from '../../../src/db/pool.js';

const own = { kind: 'instance', instanceId: 'shop-1', keyId: 'key_0' } as const;

describe('scopeAllows', () => {
  it.each([
    ['GET', '/api/instance/shop-1/details'],
    ['POST', '/api/instance/shop-1/restart'],
    ['PATCH', '/api/instance/shop-1'],
    ['PATCH', '/api/instance/shop-1/'],
    ['POST', '/api/instance/shop-1/webhook-secret'],
    ['GET', '/api/instance/shop-1/webhooks/failed'],
    ['GET', '/API/Instance/shop-1/QR'],
    ['GET', '/api/instance/shop%2D1/details'],
    ['POST', '/api/demo/shop-1/scan'],
    ['GET', '/api/openapi.json'],
  ])('lets an instance key through to %s %s', (method, path) => {
    expect(scopeAllows(own, method, path)).toBe(true);
  });

  it.each([
    ['GET', '/api/instance/shop-2/details'],
    ['GET', '/api/instance/SHOP-1/details'],
    ['GET', '/api/instance/shop-1%2Fkeys'],
    ['DELETE', '/api/instance/shop-1'],
    ['DELETE', '/api/instance/shop-1/'],
    ['GET', '/api/instance/shop-1/keys'],
    ['GET', '/api/instance/shop-1/KEYS/'],
    ['GET', '/api/instance/shop-1//keys'],
    ['DELETE', '/api/instance/shop-1/keys/key_0'],
    ['GET', '/api/instances'],
    ['GET', '/api/health'],
    ['GET', '/api/memory/report'],
    ['GET', '/metrics'],
    ['GET', '/api/events'],
    ['POST', '/api/events/token'],
    ['GET', '/api/webhooks/failed'],
    ['POST', '/api/demo/shop-2/scan'],
    ['GET', '/api/instance/%E0%A4%A/details'],
  ])('stops an instance key at %s %s', (method, path) => {
    expect(scopeAllows(own, method, path)).toBe(false);
  });

  it('lets the admin key through everywhere', () => {
    expect(scopeAllows({ kind: 'admin' }, 'DELETE', '/api/instance/x/keys/key_1')).toBe(true);
  });
});

describe('adminKeyDigest', () => {
  it('is the SHA-256 of the key, or the hash API_KEY names as sha256:<hex>', () => {
    const key = 'a-very-long-admin-key';
    const sha = createHash('sha256').update(key).digest();
    expect(adminKeyDigest(key)).toEqual(sha);
    expect(adminKeyDigest(`sha256:${sha.toString('hex')}`)).toEqual(sha);
    expect(adminKeyDigest(`SHA256:${sha.toString('hex').toUpperCase()}`)).toEqual(sha);
    expect(adminKeyDigest(`sha256:${sha.toString('hex').slice(1)}`)).toEqual(createHash('sha256').update(`sha256:${sha.toString('hex').slice(1)}`).digest());
    expect(adminKeyDigest(undefined)).toBeNull();
  });
});

describe('ScopedKeys', () => {
  /** A pool that knows one key, and a database switch. */
  function setup() {
    const key = `wfk_${'k'.repeat(43)}`;
    const hash = createHash('sha256').update(key).digest('hex');
    const state = { up: true, known: true, queries: 0, t: 1_000_000 };
    const pool = {
      query: async (sql: string, params: unknown[]) => {
        state.queries++;
        if (sql.startsWith('UPDATE')) return [{ affectedRows: 1 }];
        return [state.known && params[0] === hash ? [{ id: 'key_1', instance_id: 'shop-1', label: null, created_at: new Date(), last_used_at: null }] : []];
      },
    } as unknown as Pool;
    const keys = new ScopedKeys({ pool, read: async (q) => (state.up ? q() : null), ttlMs: 30_000, outageGraceMs: 600_000, now: () => state.t });
    return { key, state, keys };
  }

  it('asks the database once per TTL', async () => {
    const { key, state, keys } = setup();
    expect(await keys.verify(key)).toEqual({ keyId: 'key_1', instanceId: 'shop-1' });
    const after = state.queries;
    state.t += 29_000;
    await keys.verify(key);
    expect(state.queries).toBe(after);
    state.t += 2_000;
    await keys.verify(key);
    expect(state.queries).toBeGreaterThan(after);
  });

  it('keeps a key seen recently working through an outage, within the grace, and cannot vouch for one never seen', async () => {
    const { key, state, keys } = setup();
    await keys.verify(key);
    state.up = false;
    state.t += 300_000;
    expect(await keys.verify(key)).toEqual({ keyId: 'key_1', instanceId: 'shop-1' });
    expect(await keys.verify(`wfk_${'x'.repeat(43)}`)).toBe('unavailable');
    state.t += 400_000;
    expect(await keys.verify(key)).toBe('unavailable');
  });

  it('forgets a revoked key, or a removed instance’s keys, at once', async () => {
    const { key, state, keys } = setup();
    await keys.verify(key);
    state.known = false;
    keys.forgetKey('key_1');
    expect(await keys.verify(key)).toBeNull();
    state.known = true;
    await keys.verify(key);
    state.known = false;
    keys.forgetInstance('shop-1');
    expect(await keys.verify(key)).toBeNull();
  });
});
