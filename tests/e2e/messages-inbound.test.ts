import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/timeout.js';
import { verifyWebhook } from '../../src/webhooks/verify.js';
import type { TestDatabase } from '../support/db.js';
import { startMessagingSupervisor, type MessagingSupervisor } from '../support/messaging.js';
import { privateMysql } from '../support/private-mysql.js';
import { findProcessesWithArg } from '../support/processes.js';
import { startReceiver, waitFor, type Receiver } from '../support/webhook-receiver.js';

/*
 * Inbound messages at volume through two outages (issue 15, must-show 3, the supervisor's part):
 * 200 messages fired at the fake WhatsApp Web of two linked instances over some seconds, while the
 * webhook receiver answers 503 for a stretch and the database is stopped for another. Every one
 * must reach the receiver as a signed `message.received`; duplicates are allowed (delivery is at
 * least once, deduplicated by the receiver on the WhatsApp id) and counted.
 * Verdicts come from the ids the page handed out and from what the receiver took in.
 */

const TOTAL = 200;
const IDS = ['in-a', 'in-b'] as const;
/** Pause between two fired messages: 200 of them take some seconds, not a burst. */
const GAP_MS = 40;
/** Pause between two messages fired while MySQL is down, so the outage lasts several journal retries (3 s apart). */
const DOWN_GAP_MS = 200;
/** How long, at most, every fired message may take to reach the receiver once the outages are over. */
const DELIVERY_BUDGET_MS = 240_000;

// A private MariaDB this test stops and starts, never the machine's shared server.
const mysqlServer = privateMysql('inbound-mysql');
let url: string;
let receiver: Receiver;
let s: MessagingSupervisor;
let stopped = false;
const secrets = new Map<string, string>();

interface Fired {
  instanceId: string;
  messageId: string;
  from: string;
  body: string;
  stretch: 'normal' | 'receiver-503' | 'db-stopping' | 'db-down' | 'db-starting';
}

/** Creates an instance whose own webhook goes to the receiver, links it by the demo scan; returns its signing secret. */
async function linkWithWebhook(id: string): Promise<string> {
  const created = await s.call('POST', '/api/instances', { id, webhookUrl: receiver.url });
  if (created.status !== 201) throw new Error(`create ${id}: ${created.status} ${JSON.stringify(created.json)}`);
  const secret = created.json.webhookSecret as string;
  if (!secret) throw new Error(`create ${id} handed over no webhookSecret: ${JSON.stringify(created.json)}`);
  await waitFor(() => s.supervisor.fleet.handle(id).live.status === 'QR_REQUIRED', `${id} showing a QR`, 60_000);
  const scan = await s.call('POST', `/api/demo/${id}/scan`);
  if (scan.status !== 200) throw new Error(`scan ${id}: ${scan.status} ${JSON.stringify(scan.json)}`);
  await waitFor(() => s.supervisor.fleet.handle(id).live.status === 'CONNECTED', `${id} CONNECTED`, 60_000);
  return secret;
}

/** Whether a fresh login to the database succeeds right now. */
async function databaseAnswers(): Promise<boolean> {
  try {
    const conn = await mysql.createConnection({ uri: url, connectTimeout: 3_000 });
    await conn.query('SELECT 1');
    await conn.end();
    return true;
  } catch {
    return false;
  }
}

/** Whether the process runs (a zombie holds nothing: it counts as gone). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

const body = (d: { body: string }) => JSON.parse(d.body) as Record<string, any>;

beforeAll(async () => {
  url = await mysqlServer.start();
  receiver = await startReceiver();
  // No global webhook URL: every delivery goes to the instance's own URL, signed with its own secret.
  s = await startMessagingSupervisor({ url } as TestDatabase, receiver, { NOTIFICATION_WEBHOOK_URL: '', LOG_LEVEL: 'error' });
  for (const id of IDS) secrets.set(id, await linkWithWebhook(id));
}, 240_000);
afterAll(async () => {
  if (!stopped) await s?.supervisor.stop().catch(() => undefined);
  await receiver?.close();
  await mysqlServer.stop();
}, 120_000);

describe('inbound messages through a receiver outage and a database outage', () => {
  it(
    `delivers each of ${TOTAL} messages fired at the page to the receiver as a signed message.received, 0 lost, while the receiver answered 503 and MySQL was stopped for stretches`,
    { timeout: 600_000 },
    async () => {
      const fired: Fired[] = [];
      const firingErrors: string[] = [];
      let n = 0;
      /** Fires one inbound message at the next instance in turn, through the public demo route. */
      const fire = async (stretch: Fired['stretch'], gapMs = GAP_MS): Promise<void> => {
        const i = n++;
        const instanceId = IDS[i % IDS.length]!;
        const from = String(15_557_000_000 + i);
        const text = `inbound #${i} (${stretch})`;
        const r = await s.call('POST', `/api/demo/${instanceId}/message`, { from, body: text });
        if (r.status !== 200 || typeof r.json?.messageId !== 'string') {
          firingErrors.push(`#${i} on ${instanceId}: ${r.status} ${JSON.stringify(r.json)}`);
        } else {
          fired.push({ instanceId, messageId: r.json.messageId, from, body: text, stretch });
        }
        await sleep(gapMs);
      };
      const fireCount = async (count: number, stretch: Fired['stretch']) => {
        for (let k = 0; k < count && n < TOTAL; k++) await fire(stretch);
      };
      /** Fires until `work` settles (at most `max` messages), then waits for it. */
      const fireDuring = async <T>(work: Promise<T>, max: number, stretch: Fired['stretch']): Promise<T> => {
        let done = false;
        const settled = work.finally(() => (done = true));
        for (let k = 0; k < max && !done && n < TOTAL; k++) await fire(stretch);
        return settled;
      };

      const firingSince = Date.now();
      // 1. All up.
      await fireCount(30, 'normal');

      // 2. The receiver answers 503 to everything; it must really have refused message.received deliveries.
      receiver.respond = () => 503;
      await fireCount(40, 'receiver-503');
      const refusedReceived = () => receiver.received.filter((d) => d.status === 503 && body(d).event === 'message.received').length;
      await waitFor(() => refusedReceived() > 0, 'the receiver to refuse a message.received delivery', 60_000);
      const refusedDuringStretch = refusedReceived();
      receiver.respond = () => 200;

      // 3. Up again for a moment.
      await fireCount(20, 'normal');

      // 4. MySQL stopped (firing goes on while it shuts down), confirmed down, fired at while down.
      await fireDuring(mysqlServer.stop(), 40, 'db-stopping');
      const loginRefused = !(await databaseAnswers());
      const downFrom = n;
      const downSince = Date.now();
      let maxPending = 0;
      let supervisorSawOutage = false;
      for (let k = 0; k < 40 && n < TOTAL; k++) {
        await fire('db-down', DOWN_GAP_MS);
        maxPending = Math.max(maxPending, s.supervisor.fleet.journal.pending);
        if (!s.supervisor.fleet.journal.databaseUp) supervisorSawOutage = true;
      }
      // The API says so too while it is away.
      const listedDown = (await s.call('GET', '/api/instances')).json?.database;
      const firedWhileDown = n - downFrom;
      const downForMs = Date.now() - downSince;
      const stillDown = !(await databaseAnswers());

      // 5. MySQL started again (firing goes on while it comes up), then the rest.
      // Back at the same address: the supervisor's pool must find the same server again.
      expect(await fireDuring(mysqlServer.start(), 40, 'db-starting')).toBe(url);
      await fireCount(TOTAL - n, 'normal');
      const firingMs = Date.now() - firingSince;

      expect(firingErrors, 'every message was fired at the page').toEqual([]);
      expect(fired).toHaveLength(TOTAL);
      const firedIds = fired.map((f) => f.messageId);
      expect(new Set(firedIds).size, 'WhatsApp gave each fired message its own id').toBe(TOTAL);

      // Both stretches really happened.
      expect(refusedDuringStretch, 'message.received deliveries refused with 503 during the receiver stretch').toBeGreaterThan(0);
      expect(loginRefused && stillDown, 'a login to MySQL failed while it was stopped').toBe(true);
      expect(firedWhileDown, 'messages fired while MySQL was down').toBeGreaterThan(0);
      expect(supervisorSawOutage, 'the supervisor found the database away').toBe(true);
      expect(maxPending, 'inbound messages waited in the journal while the database was away').toBeGreaterThan(0);
      expect(listedDown).toBe('down');

      // Every fired message reaches the receiver (bounded: a receiver's circuit pauses it up to a minute).
      const acceptedIds = () => new Set(receiver.accepted().map(body).filter((b) => b.event === 'message.received').map((b) => b.data.id as string));
      const startedWaiting = Date.now();
      try {
        await waitFor(() => firedIds.every((id) => acceptedIds().has(id)), `all ${TOTAL} message.received webhooks`, DELIVERY_BUDGET_MS);
      } catch {
        /* reported below, with the ids that did not arrive */
      }
      const waitedMs = Date.now() - startedWaiting;
      const got = acceptedIds();
      const lost = fired.filter((f) => !got.has(f.messageId));
      expect(lost, `messages never accepted by the receiver (${lost.length} lost)`).toEqual([]);

      const hooks = receiver.accepted().filter((d) => body(d).event === 'message.received');
      const firedById = new Map(fired.map((f) => [f.messageId, f]));
      // Nothing the page did not receive, and each as it was fired, from the instance it was fired at.
      for (const d of hooks) {
        const b = body(d);
        const f = firedById.get(b.data.id);
        expect(f, `an unexpected message.received ${b.data.id}`).toBeDefined();
        expect(b).toMatchObject({ instanceId: f!.instanceId, data: { id: f!.messageId, from: `${f!.from}@c.us`, fromMe: false, type: 'chat', body: f!.body } });
        // Signed with the instance's own secret.
        expect(d.headers['x-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
        expect(verifyWebhook(secrets.get(f!.instanceId)!, d.headers, d.body, { toleranceSec: 3_600 }), `signature of ${b.data.id}`).toBe(true);
        expect(verifyWebhook(secrets.get(IDS.find((id) => id !== f!.instanceId)!)!, d.headers, d.body, { toleranceSec: 3_600 })).toBe(false);
      }
      // Nothing dead-lettered on the way.
      const dead = await s.call('GET', '/api/webhooks/failed');
      expect(dead.status).toBe(200);
      expect(JSON.stringify(dead.json)).not.toContain('message.received');

      const duplicateDeliveries = hooks.length - got.size;
      const perEventId = [...receiver.acceptedCounts()].filter(([, c]) => c > 1).length;
      const byStretch = Object.fromEntries(['normal', 'receiver-503', 'db-stopping', 'db-down', 'db-starting'].map((k) => [k, fired.filter((f) => f.stretch === k).length]));
      console.log(
        `[messages-inbound] fired ${TOTAL} in ${Math.round(firingMs / 1000)} s (${JSON.stringify(byStretch)}; MySQL down for at least ${Math.round(downForMs / 1000)} s), ${got.size} distinct ids received, lost 0, ` +
          `duplicate message.received deliveries ${duplicateDeliveries} (event ids accepted more than once: ${perEventId}), ` +
          `503 answers to message.received ${refusedReceived()}, journal held up to ${maxPending} entries while MySQL was down, ` +
          `all delivered ${Math.round(waitedMs / 1000)} s after the last was fired`,
      );
    },
  );

  it('leaves no worker or Chromium behind once the supervisor has stopped', { timeout: 120_000 }, async () => {
    const root = s.config.sessionStoragePath;
    const pids = IDS.flatMap((id) => [s.supervisor.fleet.handle(id).live.workerPid, s.supervisor.fleet.handle(id).live.browserPid]);
    expect(pids.every((pid) => typeof pid === 'number' && isRunning(pid)), `workers and browsers run: ${pids.join(', ')}`).toBe(true);
    expect(findProcessesWithArg(root).length, 'Chromium of this test runs while the supervisor does').toBeGreaterThan(0);
    stopped = true;
    await s.supervisor.stop();
    const left = () => [...pids.filter((pid) => isRunning(pid!)).map(String), ...findProcessesWithArg(root).map((p) => `${p.pid} ${p.cmdline.slice(0, 160)}`)];
    await waitFor(() => left().length === 0, 'the workers and Chromium of this test to be gone', 20_000).catch(() => undefined);
    expect(left()).toEqual([]);
  });
});
