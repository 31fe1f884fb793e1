import type { LookupAddress } from 'node:dns';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../src/api/app.js';
import { closeServer, listen } from '../../../src/api/server.js';
import { Checks } from '../../../src/checks/checks.js';
import { checkSettings } from '../../../src/checks/settings.js';
import { Fleet } from '../../../src/supervisor/fleet.js';
import { WebhookDispatcher } from '../../../src/webhooks/dispatcher.js';
import { verifySignature } from '../../../src/webhooks/sign.js';
import { verifyWebhook } from '../../../src/webhooks/verify.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { standInLauncher, testConfig } from '../../support/fleet.js';
import { capturingLogger } from '../../support/logger.js';
import { startReceiver, waitFor, type Receiver } from '../../support/webhook-receiver.js';
import { tempSessionRoot } from '../../support/workers.js';
import { Messages } from '../../../src/messages/messages.js';

/*
 * Real deliveries, captured by real HTTP receivers, verified the way the README's receiver does
 * (verifyWebhook): each instance's receiver verifies with its own secret, a replay 10 minutes
 * later fails, and instance A's delivery fails under B's secret. And a URL set with an instance's
 * own key is checked again when the delivery connects: a name that resolved to a public address
 * when it was set and resolves to 127.0.0.1 at send time is not delivered.
 */

const ADMIN_KEY = 'signatures-admin-key-0123456789';
const GLOBAL_SECRET = 'global-webhook-secret-0123456789';

/** The test's DNS: names map to what the test says, now. */
const dns = new Map<string, LookupAddress[]>();
const resolveHost = async (name: string) => dns.get(name) ?? [];

let db: TestDatabase;
let fleet: Fleet;
let dispatcher: WebhookDispatcher;
let server: Server;
let base: string;
let global: Receiver;
let hookA: Receiver;
let hookB: Receiver;
const logs = capturingLogger({ secrets: [ADMIN_KEY] });

const call = async (method: string, path: string, body?: unknown, key = ADMIN_KEY) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
};

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  [global, hookA, hookB] = await Promise.all([startReceiver(), startReceiver(), startReceiver()]);
  const config = testConfig(db.url, tempSessionRoot(), { API_KEY: ADMIN_KEY, NOTIFICATION_WEBHOOK_URL: global.url, WEBHOOK_SECRET: GLOBAL_SECRET });
  fleet = new Fleet({ config, pool: db.pool, log: logs.log, launch: standInLauncher });
  dispatcher = new WebhookDispatcher({ pool: db.pool, log: logs.log, secret: GLOBAL_SECRET, maxAttempts: 2, baseDelayMs: 20, pollMs: 20, timeoutMs: 2_000, resolveHost });
  fleet.events.onAny(() => dispatcher.wake());
  dispatcher.start();
  await fleet.start();
  const checks = new Checks({ fleet, log: logs.log, settings: checkSettings(config) });
  const app = createApp({ pool: db.pool, fleet, checks, config, log: logs.log, version: 'test', startedAt: new Date(), shuttingDown: () => false, resolveHost, messages: new Messages({ fleet: fleet, pool: db.pool, config: config, log: logs.log }) });
  server = await listen(app, '127.0.0.1', 0);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  if (server) await closeServer(server);
  await fleet?.stop();
  await dispatcher?.stop(1_000);
  await Promise.all([global, hookA, hookB].map((r) => r?.close()));
  await db?.drop();
});

const TEN_MINUTES_MS = 10 * 60_000;

describe('webhook signatures with a send time and a secret per instance', () => {
  let secretA: string;
  let secretB: string;

  it("reach each instance's receiver signed with that instance's secret, which verifies there and nowhere else, and not 10 minutes later", async () => {
    // A gets its URL (and secret) at creation, B through PATCH.
    const a = await call('POST', '/api/instances', { id: 'a', enabled: false, webhookUrl: hookA.url });
    expect(a.status).toBe(201);
    secretA = a.json.webhookSecret;
    expect((await call('POST', '/api/instances', { id: 'b', enabled: false })).json).not.toHaveProperty('webhookSecret');
    const b = await call('PATCH', '/api/instance/b', { webhookUrl: hookB.url });
    expect(b.status).toBe(200);
    secretB = b.json.webhookSecret;
    expect(secretA).toMatch(/^whsec_/);
    expect(secretB).toMatch(/^whsec_/);
    expect(secretA).not.toBe(secretB);

    expect((await call('POST', '/api/instance/a/enable')).status).toBe(200);
    expect((await call('POST', '/api/instance/b/enable')).status).toBe(200);
    await waitFor(() => hookA.accepted().length > 0 && hookB.accepted().length > 0, 'a delivery at each instance receiver');

    for (const [hook, own, other] of [
      [hookA, secretA, secretB],
      [hookB, secretB, secretA],
    ] as const) {
      for (const d of hook.accepted()) {
        const sentAt = Number(d.headers['x-webhook-timestamp']);
        expect(Math.abs(sentAt - Date.now() / 1000)).toBeLessThan(60);
        expect(d.headers['x-signature']).toBe(d.headers['x-signature']?.toString().match(/^t=\d+,v1=[0-9a-f]{64}$/)?.[0]);
        // The receiver verifies with its own secret …
        expect(verifyWebhook(own, d.headers, d.body)).toBe(true);
        // … the same delivery replayed 10 minutes later fails …
        expect(verifyWebhook(own, d.headers, d.body, { now: Date.now() + TEN_MINUTES_MS })).toBe(false);
        // … and the other instance's secret does not verify it.
        expect(verifyWebhook(other, d.headers, d.body)).toBe(false);
        expect(verifyWebhook(GLOBAL_SECRET, d.headers, d.body)).toBe(false);
        // The body-only header is still sent, one more release, under its own name.
        expect(verifySignature(d.body, d.headers['x-webhook-signature'] as string, own)).toBe(true);
      }
    }
    // The global receiver gets every notification signed with WEBHOOK_SECRET.
    await waitFor(() => global.accepted().some((d) => JSON.parse(d.body).instanceId === 'b'), 'b at the global receiver');
    for (const d of global.accepted()) {
      expect(verifyWebhook(GLOBAL_SECRET, d.headers, d.body)).toBe(true);
      expect(verifyWebhook(secretA, d.headers, d.body)).toBe(false);
    }
    expect(logs.output()).not.toContain(secretA);
    expect(logs.output()).not.toContain(secretB);
  });

  it('signs rows at send time with the current secret: a rotation reaches what is already queued', async () => {
    await dispatcher.stop(1_000);
    const before = hookA.accepted().length;
    expect((await call('POST', '/api/instance/a/disable')).status).toBe(200); // queued, not sent
    const rotated = await call('POST', '/api/instance/a/webhook-secret');
    expect(rotated.status).toBe(200);
    dispatcher = new WebhookDispatcher({ pool: db.pool, log: logs.log, secret: GLOBAL_SECRET, maxAttempts: 2, baseDelayMs: 20, pollMs: 20, resolveHost });
    dispatcher.start();
    await waitFor(() => hookA.accepted().length > before, 'the queued delivery');
    const last = hookA.accepted().at(-1)!;
    expect(verifyWebhook(rotated.json.webhookSecret, last.headers, last.body)).toBe(true);
    expect(verifyWebhook(secretA, last.headers, last.body)).toBe(false);
  });

  it('does not deliver to a name that resolved to a public address when an instance key set it and to 127.0.0.1 at send time (DNS rebinding)', async () => {
    const rebinder = await startReceiver();
    try {
      const port = new URL(rebinder.url).port;
      expect((await call('POST', '/api/instances', { id: 'c', enabled: false })).status).toBe(201);
      const key = (await call('POST', '/api/instance/c/keys')).json.key as string;
      dns.set('rebind.example.test', [{ address: '93.184.216.34', family: 4 }]);
      const set = await call('PATCH', '/api/instance/c', { webhookUrl: `http://rebind.example.test:${port}/hooks/wa-fleet` }, key);
      expect(set.status).toBe(200);
      // Now the name points home.
      dns.set('rebind.example.test', [{ address: '127.0.0.1', family: 4 }]);
      expect((await call('POST', '/api/instance/c/enable', undefined, key)).status).toBe(200);

      const own = async () =>
        (await db.pool.query<RowDataPacket[]>("SELECT status, attempts, last_error FROM webhook_outbox WHERE instance_id = 'c' AND signer = 'instance'"))[0];
      const settled = async () => rebinder.received.length > 0 || ((await own()).length > 0 && (await own()).every((r) => r.status === 'dead'));
      await waitFor(settled, "c's own deliveries dead-lettered (or received)", 15_000);
      expect(rebinder.received.map((d) => d.headers['x-webhook-event'])).toEqual([]);
      for (const row of await own()) expect(row.last_error).toContain('rebind.example.test resolves to 127.0.0.1, which is a loopback address');
      // The global receiver (the admin's, not checked) still got c's notifications.
      expect(global.accepted().some((d) => JSON.parse(d.body).instanceId === 'c')).toBe(true);

      // The instance's key sees only "unreachable"; the admin sees why.
      const seenByKey = await call('GET', '/api/instance/c/webhooks/failed', undefined, key);
      expect(seenByKey.json.failed.length).toBeGreaterThan(0);
      for (const f of seenByKey.json.failed) expect(f.lastError).toBe('unreachable');
      const seenByAdmin = await call('GET', '/api/instance/c/webhooks/failed');
      expect(seenByAdmin.json.failed[0].lastError).toContain('loopback');
    } finally {
      await rebinder.close();
    }
  });
});
