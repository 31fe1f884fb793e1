import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet } from '../../../src/supervisor/fleet.js';
import { WebhookDispatcher } from '../../../src/webhooks/dispatcher.js';
import { verifyWebhook } from '../../../src/webhooks/verify.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { standInLauncher, testConfig, waitForStatus } from '../../support/fleet.js';
import { silentLogger } from '../../support/logger.js';
import { startReceiver, waitFor, type Receiver } from '../../support/webhook-receiver.js';
import { tempSessionRoot } from '../../support/workers.js';

const SECRET = 'fleet-webhook-secret-123456';
let db: TestDatabase;
let fleet: Fleet;
let receiver: Receiver;
let dispatcher: WebhookDispatcher;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  receiver = await startReceiver();
  const config = testConfig(db.url, tempSessionRoot(), { NOTIFICATION_WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET });
  fleet = new Fleet({ config, pool: db.pool, log: silentLogger, launch: standInLauncher });
  dispatcher = new WebhookDispatcher({ pool: db.pool, log: silentLogger, secret: SECRET, maxAttempts: 3, baseDelayMs: 20, pollMs: 50 });
  fleet.events.onAny(() => dispatcher.wake());
  dispatcher.start();
  await fleet.start();
});
afterAll(async () => {
  await fleet?.stop();
  await dispatcher?.stop(1_000);
  await receiver?.close();
  await db?.drop();
});

type Body = { id: string; event: string; instanceId: string; data: Record<string, unknown> };
const bodies = () => receiver.accepted().map((d) => JSON.parse(d.body) as Body);

describe('fleet notifications', () => {
  it('reach the webhook receiver once each, signed, for every status change and QR of an instance', async () => {
    await fleet.create('hooked');
    await waitForStatus(fleet, 'hooked', 'QR_REQUIRED');
    await fleet.simulate('hooked', 'scan');
    await waitForStatus(fleet, 'hooked', 'CONNECTED');
    await fleet.disable('hooked');
    await waitFor(() => bodies().some((b) => b.event === 'status.instance'), 'status.instance delivered');
    await waitFor(() => bodies().filter((b) => b.event === 'connection.update').length >= 5, 'five connection updates');

    const updates = bodies().filter((b) => b.event === 'connection.update').map((b) => b.data.status);
    expect(updates).toEqual(['INITIALIZING', 'QR_REQUIRED', 'LOADING', 'CONNECTED', 'DISCONNECTED']);
    expect(bodies().filter((b) => b.event === 'qrcode.updated')).toHaveLength(1);
    for (const count of receiver.acceptedCounts().values()) expect(count).toBe(1);
    for (const d of receiver.accepted()) expect(verifyWebhook(SECRET, d.headers, d.body)).toBe(true);
  });
});
