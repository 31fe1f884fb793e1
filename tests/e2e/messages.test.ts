import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { delivered, KEY, linkThroughApi, pageRecord, startMessagingSupervisor, waitSettled, type MessagingSupervisor } from '../support/messaging.js';
import { startReceiver, waitFor, type Receiver } from '../support/webhook-receiver.js';

/*
 * Messages through the isolation wall, end to end: the real supervisor, real workers, the real
 * whatsapp-web.js on the fake WhatsApp Web. Every verdict is taken from the page's own record of
 * what reached "WhatsApp" and from what the webhook receiver took in.
 */

// A 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let db: TestDatabase;
let receiver: Receiver;
let s: MessagingSupervisor;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
  receiver = await startReceiver();
  s = await startMessagingSupervisor(db, receiver);
  await linkThroughApi(s, 'msg-a');
}, 90_000);
afterAll(async () => {
  await s?.supervisor.stop();
  await receiver?.close();
  await db?.drop();
});

const send = (id: string, body: unknown, key?: string) => s.call('POST', `/api/instance/${id}/messages`, body, key ? { 'idempotency-key': key } : {});

describe('sending through the API', { timeout: 120_000 }, () => {
  it('delivers text, a reply and media to the page exactly as sent, in order per chat, and reports them sent', async () => {
    const first = await send('msg-a', { to: '15551230001', text: 'hello one' });
    expect(first.status).toBe(202);
    expect(first.json.message).toMatchObject({ status: 'queued', chatId: '15551230001@c.us', type: 'text', text: 'hello one' });
    const second = await send('msg-a', { to: '+15551230001', text: 'hello two' });
    const image = await send('msg-a', { to: '15551230001@c.us', media: { base64: PNG.toString('base64'), mimetype: 'image/png', filename: 'dot.png' }, caption: 'a dot' });
    const doc = await send('msg-a', { to: '15551230002', media: { base64: PDF.toString('base64'), mimetype: 'application/pdf', filename: 'terms.pdf' } });
    expect([second.status, image.status, doc.status]).toEqual([202, 202, 202]);
    const [settledFirst] = await waitSettled(s, 'msg-a', [first.json.message.id]);
    const reply = await send('msg-a', { to: '15551230001', text: 'a reply', replyTo: settledFirst!.waMessageId });
    expect(reply.status).toBe(202);

    const ids = [first, second, image, doc, reply].map((r) => r.json.message.id as string);
    const settled = await waitSettled(s, 'msg-a', ids);
    expect(settled.map((m) => m.status)).toEqual(['sent', 'sent', 'sent', 'sent', 'sent']);

    const record = await pageRecord(s, 'msg-a');
    // Each exactly once, under the id the supervisor chose and recorded.
    for (const m of settled) expect(record.filter((r) => r.id === m.waMessageId)).toHaveLength(1);
    expect(record).toHaveLength(5);
    const chat1 = record.filter((r) => r.chatId === '15551230001@c.us');
    expect(chat1.map((r) => r.body ?? r.caption)).toEqual(['hello one', 'hello two', 'a dot', 'a reply']);
    // WhatsApp keeps no file name for an image (the library sends none); a document keeps its own.
    expect(chat1[2]).toMatchObject({ type: 'image', media: { mimetype: 'image/png', size: PNG.length, sha256: sha256(PNG) } });
    expect(chat1[3]).toMatchObject({ quotedId: settledFirst!.waMessageId });
    const pdf = record.find((r) => r.chatId === '15551230002@c.us');
    expect(pdf).toMatchObject({ type: 'document', media: { mimetype: 'application/pdf', filename: 'terms.pdf', sha256: sha256(PDF) } });

    // One message.status "sent" webhook per message, naming it.
    await waitFor(() => delivered(receiver, 'message.status').filter((b) => b.data.status === 'sent').length >= 5, 'five message.status sent webhooks');
    const sentHooks = delivered(receiver, 'message.status').filter((b) => b.data.status === 'sent');
    expect(new Set(sentHooks.map((b) => b.data.messageId))).toEqual(new Set(ids));
  });

  it('moves a message to delivered, then read, on receipts, each also a message.ack webhook', async () => {
    const sent = await send('msg-a', { to: '15551230003', text: 'receipts please' });
    const [m] = await waitSettled(s, 'msg-a', [sent.json.message.id]);
    expect(m!.status).toBe('sent');
    expect((await s.call('POST', '/api/demo/msg-a/ack', { messageId: m!.id, ack: 2 })).status).toBe(200);
    await waitFor(async () => (await s.call('GET', `/api/instance/msg-a/messages/${m!.id}`)).json.message.status === 'delivered', 'delivered');
    await s.call('POST', '/api/demo/msg-a/ack', { messageId: m!.id, ack: 3 });
    await waitFor(async () => (await s.call('GET', `/api/instance/msg-a/messages/${m!.id}`)).json.message.status === 'read', 'read');
    // The server's own receipt (ack 1, which the page gives by itself) came first.
    await waitFor(() => delivered(receiver, 'message.ack').filter((b) => b.data.messageId === m!.id).length >= 3, 'three message.ack webhooks');
    const after = (await s.call('GET', `/api/instance/msg-a/messages/${m!.id}`)).json.message;
    expect(after).toMatchObject({ status: 'read', deliveredAt: expect.any(String), readAt: expect.any(String) });
    const acks = delivered(receiver, 'message.ack').filter((b) => b.data.messageId === m!.id);
    expect(acks.map((b) => b.data.status)).toEqual(['sent', 'delivered', 'read']);
    expect(acks.every((b) => b.data.id === m!.waMessageId && b.data.chatId === '15551230003@c.us')).toBe(true);
  });

  it('turns a message the phone receives into one signed message.received webhook with its WhatsApp id', async () => {
    const fired = await s.call('POST', '/api/demo/msg-a/message', { from: '15557654321', body: 'hi there' });
    expect(fired.status).toBe(200);
    await waitFor(() => delivered(receiver, 'message.received').some((b) => b.data.id === fired.json.messageId), 'the message.received webhook');
    const [hook] = delivered(receiver, 'message.received').filter((b) => b.data.id === fired.json.messageId);
    expect(hook).toMatchObject({ instanceId: 'msg-a', data: { chatId: '15557654321@c.us', from: '15557654321@c.us', fromMe: false, type: 'chat', body: 'hi there', hasMedia: false } });
    const raw = receiver.accepted().find((d) => JSON.parse(d.body).data?.id === fired.json.messageId)!;
    expect(raw.headers['x-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    // Our own sends are reported through their status, never as received messages.
    const ours = new Set(delivered(receiver, 'message.status').map((b) => b.data.waMessageId));
    expect(delivered(receiver, 'message.received').filter((b) => ours.has(b.data.id))).toEqual([]);
  });
});

describe('what the phone receives', { timeout: 120_000 }, () => {
  it('serves the media of a received message through the API, byte for byte', async () => {
    const fired = await s.call('POST', '/api/demo/msg-a/message', { from: '15557654322', body: 'see attached', media: { mimetype: 'application/pdf', filename: 'invoice.pdf', base64: PDF.toString('base64') } });
    expect(fired.status).toBe(200);
    await waitFor(() => delivered(receiver, 'message.received').some((b) => b.data.id === fired.json.messageId), 'the message.received webhook');
    const [hook] = delivered(receiver, 'message.received').filter((b) => b.data.id === fired.json.messageId);
    expect(hook!.data).toMatchObject({ hasMedia: true, type: 'document' });
    const res = await fetch(`${s.base}/api/instance/msg-a/messages/${encodeURIComponent(fired.json.messageId)}/media`, { headers: { 'x-api-key': KEY } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/pdf');
    expect(Buffer.from(await res.arrayBuffer()).equals(PDF)).toBe(true);
    const none = await s.call('GET', `/api/instance/msg-a/messages/${encodeURIComponent(`false_15557654322@c.us_3A${'0'.repeat(18)}`)}/media`);
    expect([none.status, none.json.error.code]).toEqual([404, 'MEDIA_NOT_AVAILABLE']);
  });

  it('forwards messages WhatsApp Web delivers on reconnect (received while the session was down)', async () => {
    const fired = await s.call('POST', '/api/demo/msg-a/message', { from: '15557654323', body: 'while you were away', offline: true });
    expect(fired.status).toBe(200);
    const pid = s.supervisor.fleet.handle('msg-a').live.workerPid;
    expect((await s.call('POST', '/api/instance/msg-a/restart')).status).toBe(200);
    await waitFor(() => {
      const live = s.supervisor.fleet.handle('msg-a').live;
      return live.status === 'CONNECTED' && live.workerPid !== pid;
    }, 'msg-a back on a new worker', 60_000);
    await waitFor(() => delivered(receiver, 'message.received').some((b) => b.data.id === fired.json.messageId), 'the offline message forwarded', 30_000);
    expect(delivered(receiver, 'message.received').filter((b) => b.data.id === fired.json.messageId)[0]!.data.body).toBe('while you were away');
  });
});

describe('bad input is refused clearly, and nothing behind it is lost or blocked', { timeout: 120_000 }, () => {
  it('answers a clear 4xx for each bad request', async () => {
    const cases: Array<[unknown, number, string, string?]> = [
      [{ to: '15551230009', text: 'x' }, 404, 'INSTANCE_NOT_FOUND', 'no-such'],
      [{ to: 'abc', text: 'x' }, 400, 'VALIDATION_FAILED'],
      [{ to: '15551230009', text: '' }, 400, 'VALIDATION_FAILED'],
      [{ to: '15551230009', text: '   ' }, 400, 'VALIDATION_FAILED'],
      [{ to: '15551230009' }, 400, 'VALIDATION_FAILED'],
      [{ to: '15551230009', media: { base64: PNG.toString('base64'), mimetype: 'application/x-msdownload' } }, 415, 'MEDIA_TYPE_UNSUPPORTED'],
      [{ to: '15551230009', media: { url: 'http://127.0.0.1:9/nothing.png' } }, 422, 'MEDIA_FETCH_FAILED'],
      [{ to: '15551230009', media: { base64: 'not base64 at all!', mimetype: 'image/png' } }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [body, status, code, instance] of cases) {
      const r = await send(instance ?? 'msg-a', body);
      expect({ body, status: r.status, code: r.json?.error?.code }).toEqual({ body, status, code });
      expect(JSON.stringify(r.json)).not.toMatch(/\n\s+at /);
    }
  });

  it('refuses media over MESSAGE_MEDIA_MAX_MB with 413', async () => {
    const big = Buffer.alloc(s.config.messageMediaMaxMb * 1024 * 1024 + 1, 7).toString('base64');
    const r = await send('msg-a', { to: '15551230009', media: { base64: big, mimetype: 'image/png' } });
    expect([r.status, r.json?.error?.code]).toEqual([413, 'MEDIA_TOO_LARGE']);
  });

  it('fails a message to a number WhatsApp does not know, with the reason, and sends the next one', async () => {
    const nobody = await send('msg-a', { to: '99912345678', text: 'to nobody' });
    const next = await send('msg-a', { to: '15551230010', text: 'after nobody' });
    const [a, b] = await waitSettled(s, 'msg-a', [nobody.json.message.id, next.json.message.id]);
    expect(a).toMatchObject({ status: 'failed', reason: expect.stringMatching(/chat|WhatsApp/i) });
    expect(b!.status).toBe('sent');
    const record = await pageRecord(s, 'msg-a');
    expect(record.filter((r) => r.chatId === '99912345678@c.us')).toEqual([]);
    expect(record.filter((r) => r.body === 'after nobody')).toHaveLength(1);
    await waitFor(() => delivered(receiver, 'message.status').some((h) => h.data.messageId === a!.id && h.data.status === 'failed'), 'the failed webhook');
  });

  it('gives an idempotent retry the same message, and a reused key with another body 422', async () => {
    const one = await send('msg-a', { to: '15551230011', text: 'once' }, 'key-once');
    const again = await send('msg-a', { to: '15551230011', text: 'once' }, 'key-once');
    expect([one.status, again.status]).toEqual([202, 200]);
    expect(again.json.message.id).toBe(one.json.message.id);
    const other = await send('msg-a', { to: '15551230011', text: 'twice' }, 'key-once');
    expect([other.status, other.json.error.code]).toEqual([422, 'IDEMPOTENCY_CONFLICT']);
    await waitSettled(s, 'msg-a', [one.json.message.id]);
    expect((await pageRecord(s, 'msg-a')).filter((r) => r.body === 'once')).toHaveLength(1);
  });
});
