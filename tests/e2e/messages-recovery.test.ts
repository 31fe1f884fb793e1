import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { linkThroughApi, pageRecord, startMessagingSupervisor, waitSettled, type MessagingSupervisor } from '../support/messaging.js';
import { startReceiver, waitFor, type Receiver } from '../support/webhook-receiver.js';

/*
 * What happens to accepted messages when the instance is not there to send them, and when a
 * worker dies in the middle of a send. The page's own record is the judge: each accepted message
 * is on it exactly once.
 */

const MIN_INTERVAL_MS = 40;
const JITTER_MS = 20;

let db: TestDatabase;
let receiver: Receiver;
let s: MessagingSupervisor;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
  receiver = await startReceiver();
  s = await startMessagingSupervisor(db, receiver, {
    SEND_MIN_INTERVAL_MS: String(MIN_INTERVAL_MS),
    SEND_JITTER_MS: String(JITTER_MS),
    // Long enough to accept 100 messages while the instance waits to reconnect.
    RECONNECT_BASE_DELAY_MS: '8000',
    RECONNECT_FIRST_DELAY_MS: '8000',
    RECONNECT_JITTER_MS: '0',
    // Long enough for the crash-point tests to kill the worker themselves while the send hangs.
    SEND_TIMEOUT_MS: '10000',
  });
  await linkThroughApi(s, 'rc-1');
}, 90_000);
afterAll(async () => {
  await s?.supervisor.stop();
  await receiver?.close();
  await db?.drop();
});

const send = (body: unknown, key?: string) => s.call('POST', '/api/instance/rc-1/messages', body, key ? { 'idempotency-key': key } : {});
const live = () => s.supervisor.fleet.handle('rc-1').live;

async function killWorkerAndWait(status: 'RECONNECTING'): Promise<number> {
  const pid = live().workerPid!;
  process.kill(pid, 'SIGKILL');
  await waitFor(() => live().status === status && live().workerPid === null, `rc-1 ${status} after the worker died`, 15_000);
  return pid;
}

describe('messages accepted while the instance is away', { timeout: 180_000 }, () => {
  it('holds 100 sends accepted while RECONNECTING and sends them all once it is CONNECTED, in order, paced as configured; retries with the same keys create nothing', async () => {
    await killWorkerAndWait('RECONNECTING');
    const chats = ['15551110001', '15551110002', '15551110003'];
    const accepted: Array<{ id: string; body: string; key: string }> = [];
    for (let i = 0; i < 100; i++) {
      const body = { to: chats[i % chats.length]!, text: `held ${i}` };
      const r = await send(body, `held-${i}`);
      expect(r.status).toBe(202);
      accepted.push({ id: r.json.message.id, body: body.text, key: `held-${i}` });
    }
    // All 100 were accepted while the instance was still away: none could have been sent yet.
    expect(live().status).toBe('RECONNECTING');
    expect(await pageRecord(s, 'rc-1').catch(() => null)).toBeNull(); // no worker, no page to ask

    await waitFor(() => live().status === 'CONNECTED', 'rc-1 CONNECTED again', 60_000);
    const settled = await waitSettled(s, 'rc-1', accepted.map((a) => a.id), 90_000);
    expect(settled.every((m) => m.status === 'sent')).toBe(true);

    const record = (await pageRecord(s, 'rc-1')).filter((r) => String(r.body).startsWith('held '));
    // Exactly once each, in the order accepted (so in order per chat).
    expect(record.map((r) => r.body)).toEqual(accepted.map((a) => a.body));
    for (const chat of chats) {
      const bodies = record.filter((r) => r.chatId === `${chat}@c.us`).map((r) => Number(String(r.body).split(' ')[1]));
      expect(bodies).toEqual([...bodies].sort((a, b) => a - b));
    }
    // Paced: 99 gaps of at least SEND_MIN_INTERVAL_MS between sends (each page time may lag its
    // send's start by a few ms, so single gaps get a small tolerance; the whole run none).
    const times = record.map((r) => Number(r.at));
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(MIN_INTERVAL_MS - 15);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(99 * MIN_INTERVAL_MS);

    for (const a of accepted) {
      const again = await send({ to: chats[accepted.indexOf(a) % chats.length], text: a.body }, a.key);
      expect([again.status, again.json.message.id]).toEqual([200, a.id]);
    }
    const list = await s.call('GET', '/api/instance/rc-1/messages?limit=200');
    expect(list.json.messages.filter((m: { text: string }) => m.text.startsWith('held '))).toHaveLength(100);
    expect((await pageRecord(s, 'rc-1')).filter((r) => String(r.body).startsWith('held '))).toHaveLength(100);
  });
});

describe('a worker that dies while a message is sending', { timeout: 180_000 }, () => {
  for (const mode of ['hang-after-record', 'hang-before-record'] as const) {
    it(`leaves the message on the page exactly once after recovery (${mode}: ${mode === 'hang-after-record' ? 'it reached WhatsApp, found by the lookup' : 'it never did, sent again'})`, async () => {
      await waitFor(() => live().status === 'CONNECTED', 'rc-1 CONNECTED', 60_000);
      expect((await s.call('POST', '/api/demo/rc-1/send-fault', { mode, count: 1 })).status).toBe(200);
      const text = `crash ${mode}`;
      const r = await send({ to: '15551110009', text });
      expect(r.status).toBe(202);
      await waitFor(async () => (await s.call('GET', `/api/instance/rc-1/messages/${r.json.message.id}`)).json.message.status === 'sending', 'the message sending');
      // The crash point: the page holds it (after-record) or not (before-record), and never answers.
      const onPage = async () => (await pageRecord(s, 'rc-1')).filter((x) => x.body === text).length;
      if (mode === 'hang-after-record') await waitFor(async () => (await onPage()) === 1, 'the page recording the hanging send');
      else expect(await onPage()).toBe(0);
      await killWorkerAndWait('RECONNECTING');
      const next = await send({ to: '15551110009', text: `after ${mode}` });
      const [m, after] = await waitSettled(s, 'rc-1', [r.json.message.id, next.json.message.id], 90_000);
      expect([m!.status, after!.status]).toEqual(['sent', 'sent']);
      const record = await pageRecord(s, 'rc-1');
      expect(record.filter((x) => x.body === text)).toHaveLength(1);
      expect(record.filter((x) => x.body === `after ${mode}`)).toHaveLength(1);
      // In order: the message that was sending goes before the one accepted after it.
      expect(record.findIndex((x) => x.body === text)).toBeLessThan(record.findIndex((x) => x.body === `after ${mode}`));
    });
  }

  it('replaces a page that never answers a send (SEND_TIMEOUT_MS) before looking the message up, and sends it exactly once', async () => {
    await waitFor(() => live().status === 'CONNECTED', 'rc-1 CONNECTED', 60_000);
    const pid = live().workerPid;
    await s.call('POST', '/api/demo/rc-1/send-fault', { mode: 'hang-before-record', count: 1 });
    const r = await send({ to: '15551110010', text: 'the page hung' });
    const [m] = await waitSettled(s, 'rc-1', [r.json.message.id], 120_000);
    expect(m!.status).toBe('sent');
    expect(live().workerPid).not.toBe(pid);
    expect((await pageRecord(s, 'rc-1')).filter((x) => x.body === 'the page hung')).toHaveLength(1);
  });
});

describe('a phone logged out while messages wait for it', { timeout: 180_000 }, () => {
  it('fails the waiting messages with the reason, sends none of them, and leaves the instance waiting for a human (a logout while no worker runs)', async () => {
    await waitFor(() => live().status === 'CONNECTED', 'rc-1 CONNECTED', 60_000);
    await killWorkerAndWait('RECONNECTING');
    const held = await Promise.all([0, 1, 2].map((i) => send({ to: '15551110020', text: `for the old phone ${i}` })));
    expect(held.map((r) => r.status)).toEqual([202, 202, 202]);
    const out = await s.call('POST', '/api/instance/rc-1/logout');
    expect(out.status).toBe(200);
    const settled = await waitSettled(s, 'rc-1', held.map((r) => r.json.message.id), 30_000);
    for (const m of settled) expect(m).toMatchObject({ status: 'failed', reason: expect.stringContaining('LOGOUT') });
    expect(live()).toMatchObject({ status: 'DISCONNECTED', blockedBy: 'LOGOUT', nextReconnectAt: null, workerPid: null });
    // Past the reconnect delay it had (8 s): nothing came back, nothing was sent.
    await new Promise((r) => setTimeout(r, 9_000));
    expect(live()).toMatchObject({ status: 'DISCONNECTED', workerPid: null });
    const refused = await send({ to: '15551110020', text: 'after the logout' });
    expect([refused.status, refused.json.error.code]).toEqual([409, 'INSTANCE_BLOCKED']);
  });
});
