import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../../lib/timeout.js';
import { createPool, inTransaction, type Pool } from '../../../src/db/pool.js';
import { migrate } from '../../../src/db/migrations.js';
import { MIGRATIONS_DIR } from '../../../src/paths.js';
import { WebhookDispatcher } from '../../../src/webhooks/dispatcher.js';
import { insertNotifications } from '../../../src/webhooks/outbox.js';
import { capturingLogger, silentLogger } from '../../support/logger.js';
import { privateMysql } from '../../support/private-mysql.js';
import { startReceiver, waitFor, type Receiver } from '../../support/webhook-receiver.js';

// A private MariaDB this test stops and starts, never the machine's shared one.
const db = privateMysql('dispatcher-mysql');
/** Longer than a MariaDB stop takes, so the held answer is still awaited when it is released. */
const TIMEOUT_MS = 15_000;
const LEASE_MS = TIMEOUT_MS + 1_000;

let pool: Pool;
let receiver: Receiver | undefined;
let dispatcher: WebhookDispatcher | undefined;

beforeAll(async () => {
  const url = await db.start();
  await migrate(url, MIGRATIONS_DIR, silentLogger);
  pool = createPool({ url, size: 4 });
}, 150_000);
afterAll(async () => {
  await dispatcher?.stop(1_000);
  await receiver?.close();
  await pool?.end();
  await db.stop();
}, 120_000);

async function statusOf(eventId: string): Promise<string | undefined> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT status FROM webhook_outbox WHERE event_id = ?', [eventId]);
  return rows[0]?.status as string | undefined;
}

describe('WebhookDispatcher through a database outage', () => {
  it('records a delivery its receiver took while the database was down, and never sends it again', { timeout: 180_000 }, async () => {
    // The receiver holds its 200 until the database is down: the answer arrives with nowhere to record it.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    receiver = await startReceiver(async () => {
      await held;
      return 200;
    });
    await inTransaction(pool, (conn) =>
      insertNotifications(conn, [{ event: 'connection.update', severity: 'LOW', instanceId: null, payload: { n: 1 }, at: new Date() }], { globalUrl: receiver!.url }),
    );
    const [[row]] = await pool.query<RowDataPacket[]>('SELECT event_id FROM webhook_outbox');
    const eventId = String(row!.event_id);
    const { log, output } = capturingLogger();
    dispatcher = new WebhookDispatcher({ pool, log, secret: 'whsec-outage-0123456789', maxAttempts: 5, baseDelayMs: 20, timeoutMs: TIMEOUT_MS, leaseMs: LEASE_MS, pollMs: 50 });
    dispatcher.start();
    await waitFor(() => receiver!.received.length === 1, 'the delivery at the receiver');
    const claimedAt = Date.now();
    await db.stop();
    release();
    await waitFor(() => output().includes('the database did not record it'), 'the failed mark logged');
    await db.start();
    await waitFor(async () => (await statusOf(eventId)) === 'delivered', 'the row marked delivered', 30_000);
    // Past the claim's lease, when a row whose mark was lost goes out again.
    await sleep(Math.max(0, claimedAt + LEASE_MS + 2_000 - Date.now()));
    expect(receiver.acceptedCounts()).toEqual(new Map([[eventId, 1]]));
    expect(receiver.received).toHaveLength(1);
  });
});
