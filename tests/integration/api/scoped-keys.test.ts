import { createHash } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../src/api/app.js';
import { closeServer, listen } from '../../../src/api/server.js';
import { Checks } from '../../../src/checks/checks.js';
import { checkSettings } from '../../../src/checks/settings.js';
import type { Config } from '../../../src/config/index.js';
import { Fleet } from '../../../src/supervisor/fleet.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { standInLauncher, testConfig } from '../../support/fleet.js';
import { capturingLogger } from '../../support/logger.js';
import { tempSessionRoot } from '../../support/workers.js';
import { Messages } from '../../../src/messages/messages.js';

/*
 * Per-instance keys against the real app and MySQL: a key reaches its own instance and nothing
 * else, only the admin key manages keys, and a webhook URL set with an instance key may not point
 * into the supervisor's own network, by address or by a name resolving there (names resolve
 * through an injected resolver: no DNS in tests).
 */

const ADMIN_KEY = 'scoped-test-admin-key-0123456789';

/** The names this test's resolver knows; anything else does not resolve. */
const NAMES: Record<string, LookupAddress[]> = {
  localhost: [{ address: '127.0.0.1', family: 4 }],
  'loopback.example.test': [{ address: '127.0.0.1', family: 4 }],
  'mixed.example.test': [
    { address: '93.184.216.34', family: 4 },
    { address: '10.1.2.3', family: 4 },
  ],
  'hooks.example.com': [{ address: '93.184.216.34', family: 4 }],
};
const resolveHost = async (name: string) => NAMES[name] ?? [];

let db: TestDatabase;
let fleet: Fleet;
const servers: Server[] = [];
const logs = capturingLogger({ secrets: [ADMIN_KEY] });

async function serve(config: Config): Promise<string> {
  const checks = new Checks({ fleet, log: logs.log, settings: checkSettings(config) });
  const app = createApp({ pool: db.pool, fleet, checks, config, log: logs.log, version: 'test', startedAt: new Date(), shuttingDown: () => false, resolveHost, messages: new Messages({ fleet: fleet, pool: db.pool, config: config, log: logs.log }) });
  const server = await listen(app, '127.0.0.1', 0);
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let base: string;
const call = async (key: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, json, text };
};
const admin = (method: string, path: string, body?: unknown) => call(ADMIN_KEY, method, path, body);

let ownKey: string;
let ownKeyId: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  const config = testConfig(db.url, tempSessionRoot(), { API_KEY: ADMIN_KEY, API_AUTH_FAILURES_PER_MINUTE: '1000' });
  fleet = new Fleet({ config, pool: db.pool, log: logs.log, launch: standInLauncher });
  await fleet.start();
  base = await serve(config);
  for (const id of ['own', 'other']) expect((await admin('POST', '/api/instances', { id, enabled: false })).status).toBe(201);
  const created = await admin('POST', '/api/instance/own/keys', { label: 'crm' });
  expect(created.status).toBe(201);
  ownKey = created.json.key;
  ownKeyId = created.json.keyId;
});
afterAll(async () => {
  for (const s of servers) await closeServer(s);
  await fleet?.stop();
  await db?.drop();
});

describe('per-instance API keys', () => {
  it('are created once with the admin key, stored hashed, and listed without the key', async () => {
    expect(ownKey).toMatch(/^wfk_[A-Za-z0-9_-]{43}$/);
    expect(ownKeyId).toMatch(/^key_[0-9a-f]{16}$/);
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT key_hash, instance_id FROM api_keys');
    expect(rows).toEqual([{ key_hash: createHash('sha256').update(ownKey).digest('hex'), instance_id: 'own' }]);
    const list = await admin('GET', '/api/instance/own/keys');
    expect(list.status).toBe(200);
    expect(list.json.keys).toEqual([{ keyId: ownKeyId, label: 'crm', createdAt: expect.any(String), lastUsedAt: null }]);
    expect(list.text).not.toContain(ownKey);
    // The creation is an event of the instance, naming the key id only.
    const details = await admin('GET', '/api/instance/own/details');
    expect(details.json.events.find((e: { type: string }) => e.type === 'key.created')).toMatchObject({ category: 'API', data: { keyId: ownKeyId, label: 'crm' } });
    expect(details.text).not.toContain(ownKey);
  });

  it('reach their own instance', async () => {
    const details = await call(ownKey, 'GET', '/api/instance/own/details');
    expect(details.status).toBe(200);
    expect(details.json.instance.id).toBe('own');
    expect((await call(ownKey, 'POST', '/api/instance/own/enable')).status).toBe(200);
    expect((await call(ownKey, 'POST', '/api/instance/own/disable')).status).toBe(200);
    expect((await call(ownKey, 'GET', '/api/instance/own/webhooks/failed')).status).toBe(200);
    expect((await call(ownKey, 'GET', '/api/openapi.json')).status).toBe(200);
    // Marked used (the first verification of the key touched it).
    const list = await admin('GET', '/api/instance/own/keys');
    expect(list.json.keys[0].lastUsedAt).toEqual(expect.any(String));
  });

  it.each([
    ['GET', '/api/instance/other/details'],
    ['POST', '/api/instance/other/restart'],
    ['PATCH', '/api/instance/other', { webhookUrl: null }],
    ['POST', '/api/instance/other/webhook-secret'],
    ['GET', '/api/instance/other/webhooks/failed'],
    ['DELETE', '/api/instance/other'],
    ['GET', '/API/INSTANCE/other/details'],
    ['GET', '/api/instance/%6Fther/details'],
    ['POST', '/api/demo/other/scan'],
  ])('get 403 FORBIDDEN_SCOPE on another instance: %s %s', async (method, path, body?: unknown) => {
    const r = await call(ownKey, method, path, body);
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('FORBIDDEN_SCOPE');
  });

  it.each([
    ['GET', '/api/instances'],
    ['POST', '/api/instances', { id: 'sneaky' }],
    ['GET', '/api/health'],
    ['POST', '/api/health/check'],
    ['GET', '/api/memory/report'],
    ['GET', '/metrics'],
    ['POST', '/api/events/token'],
    ['GET', '/api/events'],
    ['GET', '/api/webhooks/failed'],
    ['POST', '/api/webhooks/1/retry'],
    ['DELETE', '/api/instance/own'],
  ])('get 403 FORBIDDEN_SCOPE on the fleet routes: %s %s', async (method, path, body?: unknown) => {
    const r = await call(ownKey, method, path, body);
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('FORBIDDEN_SCOPE');
    expect(fleet.list().map((h) => h.id)).not.toContain('sneaky');
  });

  it.each([
    ['GET', '/api/instance/own/keys'],
    ['POST', '/api/instance/own/keys', {}],
    ['DELETE', '/api/instance/own/keys/KEY'],
    ['GET', '/api/instance/own/keys/'],
    ['GET', '/api/instance/own//keys'],
    ['GET', '/api/instance/other/keys'],
  ])('get 403 FORBIDDEN_SCOPE on the key routes: %s %s', async (method, path, body?: unknown) => {
    const r = await call(ownKey, method, path.replace('KEY', ownKeyId), body);
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('FORBIDDEN_SCOPE');
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT id FROM api_keys');
    expect(rows.map((r) => r.id)).toEqual([ownKeyId]);
  });

  it.each([
    ['http://127.0.0.1:8080/hook', 'loopback'],
    ['http://10.0.0.1/hook', 'private'],
    ['http://169.254.169.254/latest/meta-data/', 'metadata'],
    ['http://[::1]:3000/hook', 'loopback'],
    ['http://[fd00:ec2::254]/', 'metadata'],
    ['http://[::ffff:127.0.0.1]/', 'loopback'],
    ['http://100.64.0.1/', 'cgnat'],
    ['http://0.0.0.0:3000/', 'unspecified'],
    ['http://2130706433/', 'loopback'],
    ['http://localhost:3000/hook', 'loopback'],
    ['http://loopback.example.test/hook', 'loopback'],
    ['https://mixed.example.test/hook', 'private'],
    ['https://nowhere.example.test/hook', 'does not resolve'],
  ])('may not point their webhook at %s (%s)', async (url, why) => {
    const r = await call(ownKey, 'PATCH', '/api/instance/own', { webhookUrl: url });
    expect(r.status).toBe(422);
    expect(r.json.error.code).toBe('WEBHOOK_URL_FORBIDDEN');
    expect(r.json.error.message).toContain(why);
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT webhook_url FROM instances WHERE id = ?', ['own']);
    expect(rows[0]?.webhook_url).toBeNull();
  });

  it('may point their webhook at a public name, which is marked as set by the instance and gets a secret of its own', async () => {
    const r = await call(ownKey, 'PATCH', '/api/instance/own', { webhookUrl: 'https://hooks.example.com/wa' });
    expect(r.status).toBe(200);
    expect(r.json.instance.webhookUrl).toBe('https://hooks.example.com/wa');
    expect(r.json.webhookSecret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT webhook_url_scope, webhook_secret FROM instances WHERE id = ?', ['own']);
    expect(rows[0]).toEqual({ webhook_url_scope: 'instance', webhook_secret: r.json.webhookSecret });
    // The secret is never shown again: not in the details, their events, or the log.
    const details = await admin('GET', '/api/instance/own/details');
    expect(details.text).not.toContain(r.json.webhookSecret);
    expect(details.json.events[0]).toMatchObject({ type: 'webhook.set', data: { origin: 'https://hooks.example.com', setBy: 'instance' } });
    expect(logs.output()).not.toContain(r.json.webhookSecret);
    // Rotating gives a new one, once.
    const rotated = await call(ownKey, 'POST', '/api/instance/own/webhook-secret');
    expect(rotated.status).toBe(200);
    expect(rotated.json.webhookSecret).not.toBe(r.json.webhookSecret);
    // Cleared with "": the secret goes with the URL.
    const cleared = await call(ownKey, 'PATCH', '/api/instance/own', { webhookUrl: '' });
    expect(cleared.json).toEqual({ instance: expect.objectContaining({ webhookUrl: null }) });
    expect((await call(ownKey, 'POST', '/api/instance/own/webhook-secret')).json.error.code).toBe('WEBHOOK_NOT_SET');
  });

  it('leave the admin free to point a webhook at a local receiver', async () => {
    const r = await admin('PATCH', '/api/instance/other', { webhookUrl: 'http://127.0.0.1:9/hook' });
    expect(r.status).toBe(200);
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT webhook_url_scope FROM instances WHERE id = ?', ['other']);
    expect(rows[0]?.webhook_url_scope).toBe('admin');
    expect((await admin('PATCH', '/api/instance/other', { webhookUrl: null })).status).toBe(200);
  });

  it('count a wrong instance key as a failed attempt, like a wrong admin key', async () => {
    const config = testConfig(db.url, tempSessionRoot(), { API_KEY: ADMIN_KEY, API_AUTH_FAILURES_PER_MINUTE: '2' });
    const strict = await serve(config);
    const wrong = `wfk_${'A'.repeat(43)}`;
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${strict}/api/instance/own/details`, { headers: { 'x-api-key': wrong } });
      expect(r.status).toBe(401);
    }
    // Over the limit: refused, the right instance key included.
    const blocked = await fetch(`${strict}/api/instance/own/details`, { headers: { 'x-api-key': ownKey } });
    expect(blocked.status).toBe(429);
  });

  it('stop working when revoked, and a removed instance takes its keys with it', async () => {
    const second = await admin('POST', '/api/instance/own/keys');
    expect(second.status).toBe(201);
    expect(second.json.label).toBeNull();
    expect((await call(second.json.key, 'GET', '/api/instance/own/details')).status).toBe(200);
    expect((await admin('DELETE', `/api/instance/own/keys/${second.json.keyId}`)).json).toEqual({ revoked: second.json.keyId });
    expect((await call(second.json.key, 'GET', '/api/instance/own/details')).status).toBe(401);
    expect((await admin('DELETE', `/api/instance/own/keys/${second.json.keyId}`)).json.error.code).toBe('KEY_NOT_FOUND');

    expect((await call(ownKey, 'GET', '/api/instance/own/details')).status).toBe(200);
    expect((await admin('DELETE', '/api/instance/own')).status).toBe(200);
    expect((await call(ownKey, 'GET', '/api/instance/own/details')).status).toBe(401);
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM api_keys');
    expect(Number(rows[0]?.n)).toBe(0);
    expect(logs.output()).not.toContain(ownKey);
  });
});

describe('the admin key as a hash', () => {
  it('accepts API_KEY=sha256:<hex of the key>, and not the hash itself as a key', async () => {
    const key = 'the-admin-key-only-its-hash-is-in-env';
    const hashed = `sha256:${createHash('sha256').update(key).digest('hex')}`;
    const url = await serve(testConfig(db.url, tempSessionRoot(), { API_KEY: hashed, API_AUTH_FAILURES_PER_MINUTE: '1000' }));
    expect((await fetch(`${url}/api/instances`, { headers: { 'x-api-key': key } })).status).toBe(200);
    expect((await fetch(`${url}/api/instances`, { headers: { 'x-api-key': hashed } })).status).toBe(401);
    expect((await fetch(`${url}/api/instances`, { headers: { 'x-api-key': `${key}x` } })).status).toBe(401);
  });
});
