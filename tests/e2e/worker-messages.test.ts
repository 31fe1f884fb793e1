import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/timeout.js';
import type { WorkerHandle } from '../../src/worker/handle.js';
import type { MessageEventPayload, SendRequest } from '../../src/worker/protocol.js';
import { fakeInit, startFakeWorker, stopAllWorkers, tempSessionRoot, type EventLog } from '../support/workers.js';
import type { SentRecord } from '../../src/demo/fake-web.js';

/*
 * Messages through a real worker on the fake WhatsApp Web: the real whatsapp-web.js sendMessage,
 * message_create, message_ack, getMessageById and downloadMedia, against the page's record of
 * what it was asked to send (`__fake.sent()`).
 */

const root = tempSessionRoot();
const PEER = '15550009876@c.us';
const OTHER = '15550004321@c.us';
/** The fake has no chat for numbers beginning with 999. */
const NO_CHAT = '9995550001@c.us';

/** A fresh id shaped like the supervisor's (src/messages/client-id.ts). */
const newWaId = () => `3EB0${randomBytes(9).toString('hex').toUpperCase()}`;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const pngBytes = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(300)]);
const pdfBytes = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(500)]);

async function linkedWorker(id: string) {
  const w = await startFakeWorker(fakeInit(root, id));
  await w.log.waitFor('qr');
  await w.handle.demo('scan', [], 3_000);
  await w.log.waitFor('ready');
  return w;
}

const query = <T>(h: WorkerHandle, action: string, ...args: unknown[]) => h.demoQuery(action, args, 5_000) as Promise<T>;
const sentRecords = (h: WorkerHandle) => query<SentRecord[]>(h, 'sent');
const recordsOf = async (h: WorkerHandle, waId: string) => (await sentRecords(h)).filter((r) => r.waId === waId);
const messageEvent = (log: EventLog, id: string, from = 0) => log.waitFor('message', 10_000, from, (p) => (p as MessageEventPayload).id === id);
const messageEventsOf = (log: EventLog, match: (p: MessageEventPayload) => boolean) =>
  log.seen.filter((e) => e.event === 'message' && match(e.payload as MessageEventPayload));

describe('messages through a worker', { timeout: 60_000 }, () => {
  let w: { handle: WorkerHandle; log: EventLog };
  beforeAll(async () => {
    w = await linkedWorker('messages');
  }, 90_000);
  afterAll(stopAllWorkers);

  const send = (req: Omit<SendRequest, 'waId'> & { waId?: string }, timeoutMs = 10_000) => {
    const waId = req.waId ?? newWaId();
    return w.handle.sendMessage({ ...req, waId }, timeoutMs).then((reply) => ({ reply, waId }));
  };

  it('sends a text under the given waId, recorded once with that id', async () => {
    const { reply, waId } = await send({ chatId: PEER, text: 'hello from the fleet' });
    expect(reply).toEqual({ waMessageId: `true_${PEER}_${waId}`, timestamp: expect.any(Number), idMatched: true });
    const records = await recordsOf(w.handle, waId);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ id: reply.waMessageId, chatId: PEER, type: 'chat', body: 'hello from the fleet', media: null, quotedId: null });
  });

  it('keeps each of several concurrent sends on its own waId', async () => {
    const results = await Promise.all([1, 2, 3, 4].map((n) => send({ chatId: n % 2 ? PEER : OTHER, text: `concurrent ${n}` })));
    const records = await sentRecords(w.handle);
    for (const [i, { reply, waId }] of results.entries()) {
      expect(reply.idMatched).toBe(true);
      const mine = records.filter((r) => r.waId === waId);
      expect(mine).toHaveLength(1);
      expect(mine[0]!.body).toBe(`concurrent ${i + 1}`);
    }
  });

  it('sends a reply that quotes a received message', async () => {
    const since = w.log.mark();
    const { id: quoted } = await query<{ id: string }>(w.handle, 'receive', { from: PEER, body: 'a question' });
    // receive() queues it; WhatsApp Web has it once the library has reported it.
    await messageEvent(w.log, quoted, since);
    const { reply, waId } = await send({ chatId: PEER, text: 'the answer', quotedId: quoted });
    expect(reply.idMatched).toBe(true);
    const [record, ...more] = await recordsOf(w.handle, waId);
    expect(more).toEqual([]);
    expect(record).toMatchObject({ type: 'chat', body: 'the answer', quotedId: quoted });
  });

  it('refuses a reply to a message that is not there: SEND_REJECTED, nothing recorded', async () => {
    const waId = newWaId();
    await expect(send({ waId, chatId: PEER, text: 'to nothing', quotedId: `false_${PEER}_3EB0DOESNOTEXIST` })).rejects.toMatchObject({ code: 'SEND_REJECTED' });
    expect(await recordsOf(w.handle, waId)).toEqual([]);
  });

  it('sends a picture as an image with its caption, and a PDF as a document with its file name', async () => {
    const image = await send({ chatId: PEER, media: { mimetype: 'image/png', filename: 'dot.png', data: pngBytes.toString('base64') }, caption: 'a picture' });
    const doc = await send({ chatId: PEER, media: { mimetype: 'application/pdf', filename: 'report.pdf', data: pdfBytes.toString('base64') }, caption: null });
    expect([image.reply.idMatched, doc.reply.idMatched]).toEqual([true, true]);
    const [imageRecord] = await recordsOf(w.handle, image.waId);
    expect(imageRecord).toMatchObject({ type: 'image', caption: 'a picture', media: { mimetype: 'image/png', size: pngBytes.length, sha256: sha256(pngBytes) } });
    const docRecords = await recordsOf(w.handle, doc.waId);
    expect(docRecords).toHaveLength(1);
    expect(docRecords[0]).toMatchObject({ type: 'document', media: { mimetype: 'application/pdf', filename: 'report.pdf', size: pdfBytes.length, sha256: sha256(pdfBytes) } });
  });

  it('finds a message it sent, and not a waId it never sent', async () => {
    const { waId } = await send({ chatId: PEER, text: 'find me' });
    expect(await w.handle.findMessage({ chatId: PEER, waId }, 5_000)).toEqual({ found: true, ack: expect.any(Number) });
    expect(await w.handle.findMessage({ chatId: PEER, waId: newWaId() }, 5_000)).toEqual({ found: false, ack: null });
    // The id is the chat's: the same waId in another chat is another message.
    expect((await w.handle.findMessage({ chatId: OTHER, waId }, 5_000)).found).toBe(false);
  });

  it('refuses a chat WhatsApp Web does not have: SEND_REJECTED, nothing recorded, and the next send keeps its own id', async () => {
    const waId = newWaId();
    await expect(send({ waId, chatId: NO_CHAT, text: 'nobody' })).rejects.toMatchObject({ code: 'SEND_REJECTED' });
    expect(await recordsOf(w.handle, waId)).toEqual([]);
    expect((await w.handle.findMessage({ chatId: NO_CHAT, waId }, 5_000)).found).toBe(false);
    // The refused send never used its one-shot id: it must not be left for the next send.
    const next = await send({ chatId: PEER, text: 'after a refusal' });
    expect(next.reply.waMessageId).toBe(`true_${PEER}_${next.waId}`);
    expect(await recordsOf(w.handle, waId)).toEqual([]);
  });

  it('reports an inbound message as a message event with its fields', async () => {
    const since = w.log.mark();
    const { id } = await query<{ id: string }>(w.handle, 'receive', { from: OTHER, body: 'ping from a customer' });
    const seen = await messageEvent(w.log, id, since);
    expect(seen.payload).toEqual({
      id,
      chatId: OTHER,
      from: OTHER,
      to: expect.stringMatching(/@c\.us$/),
      fromMe: false,
      type: 'chat',
      body: 'ping from a customer',
      timestamp: expect.any(Number),
      hasMedia: false,
      quotedId: null,
      author: null,
    });
    expect(id.startsWith(`false_${OTHER}_`)).toBe(true);
  });

  it("reports a customer's reply to one of its sends with the sent message's id as quotedId", async () => {
    const { reply } = await send({ chatId: PEER, text: 'shall we?' });
    const since = w.log.mark();
    const { id } = await query<{ id: string }>(w.handle, 'receive', { from: PEER, body: 'yes', quotedId: reply.waMessageId });
    const seen = await messageEvent(w.log, id, since);
    expect(seen.payload).toMatchObject({ body: 'yes', fromMe: false, quotedId: reply.waMessageId });
  });

  it('reports a message sent from the phone, and never its own sends, as message events', async () => {
    const since = w.log.mark();
    const { reply, waId } = await send({ chatId: PEER, text: 'sent by the supervisor' });
    await query(w.handle, 'fromPhone', { to: PEER, body: 'typed on the phone' });
    // The phone's message comes after the send: once it is reported, the send's event would have been too.
    const phone = await w.log.waitFor('message', 10_000, since, (p) => (p as MessageEventPayload).body === 'typed on the phone');
    expect(phone.payload).toMatchObject({ fromMe: true, chatId: PEER, to: PEER });
    await sleep(500);
    expect(messageEventsOf(w.log, (p) => p.id === reply.waMessageId || p.id.includes(waId) || p.body === 'sent by the supervisor')).toEqual([]);
  });

  it('reports an ack of a sent message as message_ack', async () => {
    const { reply } = await send({ chatId: PEER, text: 'will be read' });
    const since = w.log.mark();
    await query(w.handle, 'ack', reply.waMessageId, 3);
    // The server's own ack (1) of the send may come first: wait for the read receipt.
    const seen = await w.log.waitFor('message_ack', 10_000, since, (p) => (p as { id: string; ack: number }).id === reply.waMessageId && (p as { ack: number }).ack === 3);
    expect(seen.payload).toEqual({ id: reply.waMessageId, chatId: PEER, ack: 3, fromMe: true });
    expect(await w.handle.findMessage({ chatId: PEER, waId: reply.waMessageId.split('_')[2]! }, 5_000)).toEqual({ found: true, ack: 3 });
  });

  it('downloads the media of an inbound message, byte for byte; a text message has none', async () => {
    const since = w.log.mark();
    const { id } = await query<{ id: string }>(w.handle, 'receive', {
      from: PEER,
      body: 'the invoice',
      media: { mimetype: 'application/pdf', filename: 'invoice.pdf', data: pdfBytes.toString('base64') },
    });
    const seen = await messageEvent(w.log, id, since);
    expect(seen.payload).toMatchObject({ hasMedia: true, type: 'document' });
    const media = await w.handle.downloadMedia(id, 10_000);
    expect(media.mimetype).toBe('application/pdf');
    expect(media.filename).toBe('invoice.pdf');
    expect(Buffer.from(media.data, 'base64').equals(pdfBytes)).toBe(true);

    const { id: textId } = await query<{ id: string }>(w.handle, 'receive', { from: PEER, body: 'no attachment' });
    expect((await messageEvent(w.log, textId, since)).payload).toMatchObject({ hasMedia: false });
    await expect(w.handle.downloadMedia(textId, 5_000)).rejects.toMatchObject({ code: 'MEDIA_NOT_AVAILABLE' });
    await expect(w.handle.downloadMedia(`false_${PEER}_3EB0NOSUCHMESSAGE`, 5_000)).rejects.toMatchObject({ code: 'MEDIA_NOT_AVAILABLE' });
  });

  it('passes a library failure on as it is, not as a refusal', async () => {
    await query(w.handle, 'failNextSends', { mode: 'reject', count: 1 });
    const waId = newWaId();
    const failed = await send({ waId, chatId: PEER, text: 'will fail' }).then(
      () => null,
      (err: { code?: string }) => err,
    );
    expect(failed).not.toBeNull();
    expect(failed!.code).not.toBe('SEND_REJECTED');
    // The failure did not leave the one-shot id behind for the next send.
    const next = await send({ chatId: PEER, text: 'after a failure' });
    expect(next.reply.idMatched).toBe(true);
  });
});

describe('a send whose page hangs', { timeout: 90_000 }, () => {
  afterEach(stopAllWorkers);

  it('times out after WhatsApp Web recorded it, and findMessage then finds it (the crash-point case)', async () => {
    const w = await linkedWorker('messages-hang');
    await w.handle.demoQuery('failNextSends', [{ mode: 'hang-after-record', count: 1 }], 5_000);
    const waId = newWaId();
    const started = Date.now();
    await expect(w.handle.sendMessage({ chatId: PEER, waId, text: 'lost answer' }, 2_000)).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(3_500);
    expect(await w.handle.findMessage({ chatId: PEER, waId }, 5_000)).toMatchObject({ found: true });
    expect(await recordsOf(w.handle, waId)).toHaveLength(1);
    // The hung send took its id before it hung: the next send gets its own.
    const next = newWaId();
    const reply = await w.handle.sendMessage({ chatId: PEER, waId: next, text: 'next' }, 10_000);
    expect(reply.waMessageId).toBe(`true_${PEER}_${next}`);
  });

  it('times out before WhatsApp Web recorded it, and findMessage then does not find it', async () => {
    const w = await linkedWorker('messages-hang-before');
    await w.handle.demoQuery('failNextSends', [{ mode: 'hang-before-record', count: 1 }], 5_000);
    const waId = newWaId();
    await expect(w.handle.sendMessage({ chatId: PEER, waId, text: 'never recorded' }, 2_000)).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(await w.handle.findMessage({ chatId: PEER, waId }, 5_000)).toEqual({ found: false, ack: null });
    expect(await recordsOf(w.handle, waId)).toEqual([]);
    const next = newWaId();
    const reply = await w.handle.sendMessage({ chatId: PEER, waId: next, text: 'next' }, 10_000);
    expect(reply.waMessageId).toBe(`true_${PEER}_${next}`);
  });
});
