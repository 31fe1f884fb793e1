import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '../support/db.js';
import { linkThroughApi, pageRecord, startMessagingSupervisor, waitSettled, type MessagingSupervisor } from '../support/messaging.js';
import { privateMysql } from '../support/private-mysql.js';
import { startReceiver, waitFor, type Receiver } from '../support/webhook-receiver.js';

/*
 * "Accepted" means committed: while the database is away a send is refused (503), never answered
 * 202 and forgotten; messages accepted before the outage are not sent while their `sending` cannot
 * be recorded, and all go out exactly once when it is back.
 */

const mysqlServer = privateMysql('messages-outage-mysql');
let url: string;
let receiver: Receiver;
let s: MessagingSupervisor;

beforeAll(async () => {
  url = await mysqlServer.start();
  receiver = await startReceiver();
  const db = { url } as TestDatabase;
  // Pacing slows the queue down so that the outage finds messages still waiting.
  s = await startMessagingSupervisor(db, receiver, { SEND_MIN_INTERVAL_MS: '300', DB_RETRY_INTERVAL_MS: '500' });
  await linkThroughApi(s, 'out-1');
}, 120_000);
afterAll(async () => {
  await s?.supervisor.stop();
  await receiver?.close();
  await mysqlServer.stop();
});

async function rows(): Promise<number> {
  const conn = await mysql.createConnection({ uri: url });
  try {
    const [r] = await conn.query('SELECT COUNT(*) AS n FROM outbound_messages');
    return Number((r as Array<{ n: number }>)[0]!.n);
  } finally {
    await conn.end();
  }
}

describe('sending through a database outage', { timeout: 240_000 }, () => {
  it('refuses sends with 503 while MySQL is down and records none of them; what was accepted before goes out exactly once after', async () => {
    const before: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await s.call('POST', '/api/instance/out-1/messages', { to: '15552220001', text: `before ${i}` });
      expect(r.status).toBe(202);
      before.push(r.json.message.id);
    }
    await mysqlServer.stop();
    const refused: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await s.call('POST', '/api/instance/out-1/messages', { to: '15552220001', text: `during ${i}` });
      refused.push(r.status);
      expect(r.json?.error?.code).toBe('DATABASE_UNAVAILABLE');
    }
    expect(refused).toEqual([503, 503, 503, 503, 503]);
    // The session itself keeps running through the outage.
    expect(s.supervisor.fleet.handle('out-1').live.status).toBe('CONNECTED');
    const sentDuring = (await pageRecord(s, 'out-1')).length;
    await new Promise((r) => setTimeout(r, 3_000));
    // No send may start while its `sending` cannot be written first.
    expect((await pageRecord(s, 'out-1')).length).toBe(sentDuring);
    expect(await mysqlServer.start()).toBe(url);

    const settled = await waitSettled(s, 'out-1', before, 120_000);
    expect(settled.map((m) => m.status)).toEqual(before.map(() => 'sent'));
    const record = await pageRecord(s, 'out-1');
    expect(record.map((r) => r.body)).toEqual(before.map((_, i) => `before ${i}`));
    expect(await rows()).toBe(10);
    await waitFor(async () => (await s.call('POST', '/api/instance/out-1/messages', { to: '15552220001', text: 'after' })).status === 202, 'sends accepted again', 30_000);
  });
});
