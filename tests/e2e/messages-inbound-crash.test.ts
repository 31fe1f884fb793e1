import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/timeout.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { startChild, type RunningChild } from '../support/child.js';
import { freePort, waitForHttp } from '../support/net.js';
import { privateMysql } from '../support/private-mysql.js';
import { chromiumOnProfile } from '../support/processes.js';
import { startReceiver, waitFor, type Receiver } from '../support/webhook-receiver.js';
import { tempSessionRoot } from '../support/workers.js';

/*
 * An inbound message is never lost to a supervisor SIGKILL (chaos seed 1210 lost one). WhatsApp
 * Web hands a message over once; the worker reports it, and until the supervisor's journal has
 * committed it, it lives in the supervisor's memory. Here that window is held open by a MySQL
 * outage: the message arrives while the database is down (the journal defers it), the supervisor
 * is SIGKILLed (its workers go with it), MySQL comes back, a new supervisor starts on the same
 * database and session folder, and the message must be recorded and delivered as
 * `message.received`, exactly once. The worker kept it in its folder until the supervisor
 * confirmed the commit, and its next start reported it again.
 */

const KEY = 'inbound-crash-key-0123456789abcdef';
const ID = 'inb-1';
const mysqlServer = privateMysql('inbound-crash-mysql');
const root = tempSessionRoot();
let url = '';
let receiver: Receiver;
let run: RunningChild | undefined;
let base = '';

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'x-api-key': KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function startSupervisor(): Promise<void> {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  run = startChild(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'src/main.ts')], {
    cwd: PACKAGE_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      API_KEY: KEY,
      MYSQL_URL: url,
      HOST: '127.0.0.1',
      PORT: String(port),
      SESSION_STORAGE_PATH: root,
      CACHE_PATH: join(root, '..', 'cache'),
      CHROME_PATH: process.env.CHROME_PATH ?? '/usr/bin/chromium',
      WA_FLEET_FAKE_WEB: 'true',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'warn',
      REHYDRATE_STAGGER_MS: '0',
      DB_RETRY_INTERVAL_MS: '500',
      NOTIFICATION_WEBHOOK_URL: receiver.url,
      WEBHOOK_BASE_DELAY_MS: '200',
    },
  });
  await waitForHttp(`${base}/healthz`, 90_000, 200);
}

async function status(): Promise<string | null> {
  const r = await call('GET', '/api/instances').catch(() => null);
  return r?.json?.instances?.find((i: { id: string }) => i.id === ID)?.connectionStatus ?? null;
}

/** message.received deliveries of one WhatsApp id. */
const receivedOf = (waId: string) => receiver.accepted().filter((d) => JSON.parse(d.body).event === 'message.received' && JSON.parse(d.body).data?.id === waId);

async function inboundRows(waId: string): Promise<number> {
  const conn = await mysql.createConnection({ uri: url });
  try {
    const [rows] = await conn.query('SELECT COUNT(*) AS n FROM inbound_messages WHERE wa_message_id = ?', [waId]);
    return Number((rows as Array<{ n: number }>)[0]!.n);
  } finally {
    await conn.end();
  }
}

beforeAll(async () => {
  url = await mysqlServer.start();
  receiver = await startReceiver();
  await startSupervisor();
  expect((await call('POST', '/api/instances', { id: ID })).status).toBe(201);
  await waitFor(async () => (await status()) === 'QR_REQUIRED', `${ID} showing a QR`, 60_000);
  expect((await call('POST', `/api/demo/${ID}/scan`)).status).toBe(200);
  await waitFor(async () => (await status()) === 'CONNECTED', `${ID} CONNECTED`, 60_000);
}, 180_000);

afterAll(async () => {
  if (run && run.proc.exitCode === null && run.proc.signalCode === null) {
    run.proc.kill('SIGTERM');
    await Promise.race([run.exited, sleep(30_000)]);
    run.kill();
  }
  await receiver?.close();
  await mysqlServer.start().catch(() => undefined);
  await mysqlServer.stop();
}, 120_000);

describe('an inbound message across a supervisor SIGKILL', () => {
  it('taken by the page while the journal could not commit it, it is recorded and delivered once after the restart', { timeout: 240_000 }, async () => {
    // Before: one that goes through normally, so the receiver is known to work.
    const first = await call('POST', `/api/demo/${ID}/message`, { from: '15557770001', body: 'before the outage' });
    expect(first.status).toBe(200);
    await waitFor(() => receivedOf(first.json.messageId).length === 1, 'the first message delivered', 30_000);

    await mysqlServer.stop();
    const lost = await call('POST', `/api/demo/${ID}/message`, { from: '15557770002', body: 'while the database is down' });
    expect(lost.status).toBe(200);
    const waId = lost.json.messageId as string;
    // The worker has reported it; the journal holds it in memory, deferred.
    await sleep(1_500);
    process.kill(run!.proc.pid!, 'SIGKILL');
    await run!.exited;
    await waitFor(() => chromiumOnProfile(root, ID).length === 0, 'the browser of the killed supervisor to go', 30_000);
    expect(receivedOf(waId)).toHaveLength(0);

    await mysqlServer.start();
    await startSupervisor();
    await waitFor(async () => (await status()) === 'CONNECTED', `${ID} CONNECTED again`, 90_000);
    await waitFor(() => receivedOf(waId).length >= 1, `message.received for ${waId} after the restart`, 60_000);
    expect(await inboundRows(waId)).toBe(1);
    // Once: a second start (the worker reporting it again) must not announce it twice.
    expect((await call('POST', `/api/instance/${ID}/restart`)).status).toBe(200);
    await waitFor(async () => (await status()) === 'CONNECTED', `${ID} CONNECTED after a restart`, 60_000);
    await sleep(2_000);
    expect(receivedOf(waId)).toHaveLength(1);
    expect(receivedOf(first.json.messageId)).toHaveLength(1);
  });
});
