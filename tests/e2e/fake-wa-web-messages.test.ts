import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import wwebjs from 'whatsapp-web.js';
import type { Client as WaClient, Message } from 'whatsapp-web.js';
import { ClientEventLog, TEST_PUPPETEER } from '../support/fake-client.js';
import { processesLeftWithArg } from '../support/processes.js';
import { callFake, fakeClientOptions, type FakeWaConfig, type SentRecord } from '../../src/demo/fake-web.js';

const { Client, LocalAuth, MessageMedia } = wwebjs;

const ROOT = mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? tmpdir(), 'fake-wa-messages-'));
const SESSIONS = join(ROOT, 'sessions');
const CACHE = join(ROOT, 'cache');

/** The account the fake page links (its default `phone`). */
const ME = '15550001234@c.us';
const PEER = '15557654321@c.us';
const GROUP = '120363000000000001@g.us';
/** Options every send here uses: no sendSeen, no link preview (as the worker sends). */
const PLAIN = { sendSeen: false, linkPreview: false };

const RECORDED_EVENTS = ['qr', 'authenticated', 'ready', 'disconnected', 'message', 'message_create', 'message_ack'];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

interface Started {
  client: WaClient;
  events: ClientEventLog;
}

const started: WaClient[] = [];

function startClient(clientId: string, config: FakeWaConfig = {}): Started {
  const client = new Client({
    authStrategy: new LocalAuth({ clientId, dataPath: SESSIONS }),
    ...fakeClientOptions(CACHE, config),
    puppeteer: TEST_PUPPETEER,
  });
  started.push(client);
  const events = new ClientEventLog(client, RECORDED_EVENTS);
  // Failures show up as missing events; a rejection here must not be unhandled.
  client.initialize().catch(() => undefined);
  return { client, events };
}

function page(client: WaClient) {
  if (!client.pupPage) throw new Error('the client has no page yet');
  return client.pupPage;
}

/** A first start: QR, scan, ready. */
async function startReady(clientId: string, config: FakeWaConfig = {}): Promise<Started> {
  const run = startClient(clientId, config);
  await run.events.waitFor('qr');
  await callFake(page(run.client), 'scan');
  await run.events.waitFor('ready');
  return run;
}

/** A later start of a linked profile: ready without a QR. */
async function restart(clientId: string, config: FakeWaConfig = {}): Promise<Started> {
  const run = startClient(clientId, config);
  await run.events.waitFor('ready');
  expect(run.events.names()).not.toContain('qr');
  return run;
}

/** Polls until the fake page answers (before the library emits anything). */
async function waitForFakePage(client: WaClient, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answered = client.pupPage ? await callFake(client.pupPage, 'status').then(() => true, () => false) : false;
    if (answered) return;
    if (Date.now() > deadline) throw new Error('the fake page never answered');
    await sleep(100);
  }
}

/** destroy(), and if that hangs, kill the browser's whole process group. */
async function shutdown(client: WaClient): Promise<void> {
  const at = started.indexOf(client);
  if (at !== -1) started.splice(at, 1);
  for (let i = 0; i < 100 && !client.pupBrowser; i++) await sleep(100);
  const browserProcess = client.pupBrowser?.process();
  const destroyed = await Promise.race([client.destroy().then(() => true, () => false), sleep(5_000).then(() => false)]);
  if (destroyed || !browserProcess?.pid || browserProcess.exitCode !== null) return;
  try {
    process.kill(-browserProcess.pid, 'SIGKILL');
  } catch {
    browserProcess.kill('SIGKILL');
  }
}

/**
 * Makes the next send use `waId`, as the worker does: a one-shot `newId` on the WAWebMsgKey module
 * object that puts the original back when called.
 */
async function chooseNextId(client: WaClient, waId: string): Promise<void> {
  await page(client).evaluate((id) => {
    const mod = (window as unknown as { require: (m: string) => { newId: () => Promise<string> } }).require('WAWebMsgKey');
    const original = mod.newId;
    mod.newId = () => {
      mod.newId = original;
      return Promise.resolve(id);
    };
  }, waId);
}

function newWaId(): string {
  return '3EB0' + randomBytes(9).toString('hex').toUpperCase();
}

/** Settles within `ms`? A send that hangs must not. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([promise.then(() => true, () => true), sleep(ms).then(() => false)]);
}

const sent = (client: WaClient): Promise<SentRecord[]> => callFake(page(client), 'sent');

/** URLs the page requests from now on: the fake must fetch nothing (media included). */
function trackRequests(client: WaClient): string[] {
  const urls: string[] = [];
  page(client).on('request', (request) => urls.push(request.url()));
  return urls;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map(shutdown));
});

afterAll(async () => {
  expect(await processesLeftWithArg(ROOT)).toEqual([]);
});

describe('the fake WhatsApp Web sends and receives messages through the real whatsapp-web.js', { timeout: 120_000 }, () => {
  it('text, reply, image and document sends reach the record exactly as sent, in order, under the ids the page gave', async () => {
    const { client, events } = await startReady('send');
    const requests = trackRequests(client);
    const jpeg = randomBytes(4_321);
    const png = randomBytes(777);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(2_048)]);
    const pdfPlain = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(999)]);

    const text = await client.sendMessage(PEER, 'hello there', PLAIN);
    const group = await client.sendMessage(GROUP, 'hello group', PLAIN);
    const reply = await client.sendMessage(PEER, 'a reply', { ...PLAIN, quotedMessageId: text.id._serialized, ignoreQuoteErrors: false });
    const image = await client.sendMessage(PEER, new MessageMedia('image/jpeg', jpeg.toString('base64'), 'photo.jpg'), PLAIN);
    const captioned = await client.sendMessage(GROUP, new MessageMedia('image/png', png.toString('base64')), { ...PLAIN, caption: 'look' });
    const doc = await client.sendMessage(PEER, new MessageMedia('application/pdf', pdf.toString('base64'), 'report.pdf'), {
      ...PLAIN,
      sendMediaAsDocument: true,
    });
    const docPlain = await client.sendMessage(PEER, new MessageMedia('application/pdf', pdfPlain.toString('base64'), 'plain.pdf'), PLAIN);
    const messages = [text, group, reply, image, captioned, doc, docPlain];

    for (const m of messages) {
      expect(m.id.id).toMatch(/^3EB0[0-9A-F]{18}$/);
      expect(m.fromMe).toBe(true);
    }
    expect(text.id._serialized).toBe(`true_${PEER}_${text.id.id}`);
    expect(group.id._serialized).toBe(`true_${GROUP}_${group.id.id}`);
    expect(text.body).toBe('hello there');
    expect(reply.hasQuotedMsg).toBe(true);
    expect(image.hasMedia).toBe(true);
    expect(image.type).toBe('image');
    expect(captioned.body).toBe('look');
    expect(doc.type).toBe('document');

    const records = await sent(client);
    const { boot } = await callFake(page(client), 'status');
    expect(records.map((r) => r.id)).toEqual(messages.map((m) => m.id._serialized));
    expect(records.map((r) => r.waId)).toEqual(messages.map((m) => m.id.id));
    const media = (mimetype: string, filename: string | null, bytes: Buffer) => ({ mimetype, filename, size: bytes.length, sha256: sha256(bytes) });
    expect(records.map(({ id: _id, waId: _waId, at: _at, ...rest }) => rest)).toEqual([
      { chatId: PEER, type: 'chat', body: 'hello there', caption: null, quotedId: null, media: null, boot },
      { chatId: GROUP, type: 'chat', body: 'hello group', caption: null, quotedId: null, media: null, boot },
      { chatId: PEER, type: 'chat', body: 'a reply', caption: null, quotedId: text.id._serialized, media: null, boot },
      { chatId: PEER, type: 'image', body: null, caption: null, quotedId: null, media: media('image/jpeg', null, jpeg), boot },
      { chatId: GROUP, type: 'image', body: null, caption: 'look', quotedId: null, media: media('image/png', null, png), boot },
      { chatId: PEER, type: 'document', body: null, caption: null, quotedId: null, media: media('application/pdf', 'report.pdf', pdf), boot },
      { chatId: PEER, type: 'document', body: null, caption: null, quotedId: null, media: media('application/pdf', 'plain.pdf', pdfPlain), boot },
    ]);
    const times = records.map((r) => r.at);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(await callFake(page(client), 'status')).toMatchObject({ sentCount: 7 });

    // Each send reached the library as its own message_create, and the server ack (1) followed.
    for (const m of messages) await events.waitForMessage('message_create', m.id._serialized);
    await events.waitFor('message_ack', { match: (args) => (args[0] as Message).id._serialized === docPlain.id._serialized && args[1] === 1 });
    expect(events.messages('message')).toEqual([]);

    // The bytes sent are the bytes WhatsApp keeps.
    const downloaded = await doc.downloadMedia();
    expect(Buffer.from(downloaded.data, 'base64').equals(pdf)).toBe(true);
    expect(downloaded).toMatchObject({ mimetype: 'application/pdf', filename: 'report.pdf' });
    expect(requests).toEqual([]);
  });

  it('a reply to a message the page does not know rejects (ignoreQuoteErrors: false) and records nothing', async () => {
    const { client } = await startReady('bad-quote');
    const send = client.sendMessage(PEER, 'reply to nothing', {
      ...PLAIN,
      quotedMessageId: `false_${PEER}_3A00000000000000000000`,
      ignoreQuoteErrors: false,
    });
    await expect(send).rejects.toThrow('Could not get the quoted message.');
    expect(await sent(client)).toEqual([]);
  });

  it('a number beginning with 999 is not on WhatsApp: sendMessage resolves undefined and nothing is recorded', async () => {
    const { client, events } = await startReady('nobody');
    expect(await client.sendMessage('9991234567@c.us', 'anyone there?', PLAIN)).toBeUndefined();
    expect(await client.sendMessage('9991234567@c.us', new MessageMedia('image/png', randomBytes(10).toString('base64')), PLAIN)).toBeUndefined();
    expect(await sent(client)).toEqual([]);
    expect(await callFake(page(client), 'status')).toMatchObject({ sentCount: 0 });
    expect(events.messages('message_create')).toEqual([]);
  });

  it('the record and every message survive destroy() and a new Client on the same profile; Msg.get finds them', async () => {
    const first = await startReady('restart');
    const a = await first.client.sendMessage(PEER, 'before the restart', PLAIN);
    const b = await first.client.sendMessage(GROUP, 'to the group', PLAIN);
    const { id: receivedId } = await callFake(page(first.client), 'receive', { from: PEER, body: 'an answer' });
    await first.events.waitForMessage('message', receivedId);
    await callFake(page(first.client), 'ack', a.id._serialized, 3);
    const before = await sent(first.client);
    expect(before.map((r) => r.id)).toEqual([a.id._serialized, b.id._serialized]);
    await shutdown(first.client);

    const second = await restart('restart');
    expect(await sent(second.client)).toEqual(before);
    expect(await callFake(page(second.client), 'status')).toMatchObject({ boot: 2, sentCount: 2 });

    const foundA = await second.client.getMessageById(a.id._serialized);
    expect(foundA).toMatchObject({ body: 'before the restart', fromMe: true, to: PEER, ack: 3 });
    expect(foundA.id._serialized).toBe(a.id._serialized);
    const foundB = await second.client.getMessageById(b.id._serialized);
    expect(foundB).toMatchObject({ body: 'to the group', to: GROUP });
    const received = await second.client.getMessageById(receivedId);
    expect(received).toMatchObject({ body: 'an answer', fromMe: false, from: PEER, to: ME });
    expect(await second.client.getMessageById(`true_${PEER}_3EB0000000000000000000`)).toBeNull();
    // Loaded at boot, not new: the restart replays nothing.
    expect(second.events.messages('message_create')).toEqual([]);
    expect(second.events.messages('message')).toEqual([]);

    // A reply to a message from the earlier boot.
    const reply = await second.client.sendMessage(PEER, 're: before', { ...PLAIN, quotedMessageId: a.id._serialized, ignoreQuoteErrors: false });
    const [, , last] = await sent(second.client);
    expect(last).toMatchObject({ id: reply.id._serialized, quotedId: a.id._serialized, boot: 2 });
  });

  it('a second send under an id WhatsApp already has is one message, but the record lists each arrival (a blind resend is visible), also after a restart', async () => {
    const first = await startReady('same-id');
    const waId = newWaId();
    await chooseNextId(first.client, waId);
    const one = await first.client.sendMessage(PEER, 'once', PLAIN);
    expect(one.id._serialized).toBe(`true_${PEER}_${waId}`);
    await chooseNextId(first.client, waId);
    const again = await first.client.sendMessage(PEER, 'once', PLAIN);
    expect(again.id._serialized).toBe(one.id._serialized);
    expect((await sent(first.client)).map((r) => [r.id, r.repeat])).toEqual([
      [one.id._serialized, undefined],
      [one.id._serialized, 2],
    ]);
    await shutdown(first.client);

    const second = await restart('same-id');
    await chooseNextId(second.client, waId);
    const third = await second.client.sendMessage(PEER, 'once', PLAIN);
    expect(third.id._serialized).toBe(one.id._serialized);
    const other = await second.client.sendMessage(PEER, 'another', PLAIN);
    expect((await sent(second.client)).map((r) => [r.id, r.repeat])).toEqual([
      [one.id._serialized, undefined],
      [one.id._serialized, 2],
      [one.id._serialized, 3],
      [other.id._serialized, undefined],
    ]);
    // Two messages in WhatsApp, whatever the arrivals.
    expect(await callFake(page(second.client), 'status')).toMatchObject({ sentCount: 2 });
    expect(second.events.messages('message_create').map((m) => m.id._serialized)).toEqual([other.id._serialized]);
  });

  it('receive() makes the library emit message_create and message with the message fields', async () => {
    const { client, events } = await startReady('receive');
    const mine = await client.sendMessage(PEER, 'question?', PLAIN);
    const before = Math.floor(Date.now() / 1000);

    const { id } = await callFake(page(client), 'receive', { from: '15557654321', body: 'plain answer' });
    expect(id).toMatch(new RegExp(`^false_${PEER}_3A[0-9A-F]{18}$`));
    const created = await events.waitForMessage('message_create', id);
    const message = await events.waitForMessage('message', id);
    for (const m of [created, message]) {
      expect(m).toMatchObject({ body: 'plain answer', type: 'chat', from: PEER, to: ME, fromMe: false, hasMedia: false, hasQuotedMsg: false });
      expect(m.id._serialized).toBe(id);
      expect(m.timestamp).toBeGreaterThanOrEqual(before - 1);
      expect(m.timestamp).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    }
    // message_create first, then message: the library's order.
    const order = events.entries.filter((e) => (e.args[0] as Message | undefined)?.id?._serialized === id).map((e) => e.name);
    expect(order).toEqual(['message_create', 'message']);

    const quoting = await callFake(page(client), 'receive', { from: PEER, body: 'yes!', id: '3AFEEDFACE0000000001', quotedId: mine.id._serialized });
    expect(quoting.id).toBe(`false_${PEER}_3AFEEDFACE0000000001`);
    const reply = await events.waitForMessage('message', quoting.id);
    expect(reply.hasQuotedMsg).toBe(true);
    expect((reply.rawData as { quotedStanzaID?: string }).quotedStanzaID).toBe(mine.id.id);
    expect((await reply.getQuotedMessage()).id._serialized).toBe(mine.id._serialized);

    const inGroup = await callFake(page(client), 'receive', { from: GROUP, author: '15551112222', body: 'hi all' });
    expect(inGroup.id).toMatch(new RegExp(`^false_${GROUP}_3A`));
    expect(await events.waitForMessage('message', inGroup.id)).toMatchObject({
      from: GROUP,
      author: '15551112222@c.us',
      to: ME,
      body: 'hi all',
      fromMe: false,
    });

    // Received messages are in WhatsApp Web's store: a reply to one works.
    const answer = await client.sendMessage(PEER, 'thanks', { ...PLAIN, quotedMessageId: id, ignoreQuoteErrors: false });
    expect((await sent(client)).at(-1)).toMatchObject({ id: answer.id._serialized, quotedId: id });
    await expect(callFake(page(client), 'receive', { from: PEER, body: 'again', id: '3AFEEDFACE0000000001' })).rejects.toThrow(/exists already/);
    await expect(callFake(page(client), 'receive', { from: '9990001111', body: 'ghost' })).rejects.toThrow(/not on WhatsApp/);
  });

  it('fromPhone() makes the library emit message_create only, with fromMe true', async () => {
    const { client, events } = await startReady('from-phone');
    const { id } = await callFake(page(client), 'fromPhone', { to: PEER, body: 'typed on the phone' });
    expect(id).toMatch(new RegExp(`^true_${PEER}_3A[0-9A-F]{18}$`));
    const created = await events.waitForMessage('message_create', id);
    expect(created).toMatchObject({ body: 'typed on the phone', fromMe: true, from: ME, to: PEER, type: 'chat' });
    // A received message sent after it arrives, so anything for the phone's message would have too.
    const { id: later } = await callFake(page(client), 'receive', { from: PEER, body: 'after' });
    await events.waitForMessage('message', later);
    expect(events.messages('message', id)).toEqual([]);
    expect(await sent(client)).toEqual([]);
  });

  it('ack() sets the ack and the library emits message_ack with it; an unknown id throws', async () => {
    const { client, events } = await startReady('ack');
    const out = await client.sendMessage(PEER, 'ack me', PLAIN);
    await events.waitFor('message_ack', { match: (args) => (args[0] as Message).id._serialized === out.id._serialized && args[1] === 1 });

    expect(await callFake(page(client), 'ack', out.id._serialized, 3)).toEqual({ id: out.id._serialized, ack: 3 });
    const [message, ack] = await events.waitFor('message_ack', { match: (args) => (args[0] as Message).id._serialized === out.id._serialized && args[1] === 3 });
    expect(ack).toBe(3);
    expect((message as Message).ack).toBe(3);
    expect((await client.getMessageById(out.id._serialized)).ack).toBe(3);

    await callFake(page(client), 'ack', out.id._serialized, -1);
    await events.waitFor('message_ack', { match: (args) => (args[0] as Message).id._serialized === out.id._serialized && args[1] === -1 });

    await expect(callFake(page(client), 'ack', `true_${PEER}_3EB0000000000000000000`, 2)).rejects.toThrow(/no message/);
  });

  it('offline messages wait for the library’s next ready and then arrive after it, in order', async () => {
    const first = await startReady('offline');
    const ids: string[] = [];
    for (const body of ['one', 'two', 'three']) {
      ids.push((await callFake(page(first.client), 'receive', { from: PEER, body, offline: true })).id);
    }
    await sleep(500);
    expect(first.events.messages('message')).toEqual([]);
    expect(await callFake(page(first.client), 'status')).toMatchObject({ pendingInbound: 3 });
    await shutdown(first.client);

    // Held in OPENING on the next boot: not CONNECTED, so a plain receive() waits too.
    const second = startClient('offline', { perBoot: { 2: { hold: 'OPENING' } } });
    await waitForFakePage(second.client);
    ids.push((await callFake(page(second.client), 'receive', { from: GROUP, author: PEER, body: 'four' })).id);
    expect(await callFake(page(second.client), 'status')).toMatchObject({ pendingInbound: 4, state: 'OPENING' });
    await callFake(page(second.client), 'resume');
    await second.events.waitFor('ready');
    for (const id of ids) await second.events.waitForMessage('message', id);

    const readyAt = second.events.names().indexOf('ready');
    const received = second.events.entries.filter((e) => e.name === 'message');
    expect(second.events.entries.findIndex((e) => e.name === 'message')).toBeGreaterThan(readyAt);
    expect(received.map((e) => (e.args[0] as Message).id._serialized)).toEqual(ids);
    expect(received.map((e) => (e.args[0] as Message).body)).toEqual(['one', 'two', 'three', 'four']);
    // Each arrives once, and the queue is empty afterwards (on disk too: the next boot delivers nothing).
    await sleep(300);
    expect(second.events.messages('message')).toHaveLength(4);
    expect(await callFake(page(second.client), 'status')).toMatchObject({ pendingInbound: 0 });
    await shutdown(second.client);

    const third = await restart('offline');
    await sleep(500);
    expect(third.events.messages('message')).toEqual([]);
    expect((await third.client.getMessageById(ids[0])).body).toBe('one');
  });

  it('downloadMedia() of a received image and document gives back the bytes; a sent image too', async () => {
    const { client, events } = await startReady('download');
    const requests = trackRequests(client);
    const png = randomBytes(1_500);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(3_000)]);

    const image = await callFake(page(client), 'receive', {
      from: PEER,
      body: 'a picture',
      media: { mimetype: 'image/png', data: png.toString('base64') },
    });
    const doc = await callFake(page(client), 'receive', {
      from: PEER,
      media: { mimetype: 'application/pdf', filename: 'invoice.pdf', data: pdf.toString('base64') },
    });
    const gotImage = await events.waitForMessage('message', image.id);
    expect(gotImage).toMatchObject({ type: 'image', hasMedia: true, body: 'a picture' });
    const imageMedia = await gotImage.downloadMedia();
    expect(imageMedia.mimetype).toBe('image/png');
    expect(Buffer.from(imageMedia.data, 'base64').equals(png)).toBe(true);

    const gotDoc = await events.waitForMessage('message', doc.id);
    expect(gotDoc).toMatchObject({ type: 'document', hasMedia: true });
    const docMedia = await gotDoc.downloadMedia();
    expect(docMedia).toMatchObject({ mimetype: 'application/pdf', filename: 'invoice.pdf' });
    expect(Buffer.from(docMedia.data, 'base64').equals(pdf)).toBe(true);

    const jpeg = randomBytes(2_222);
    const out = await client.sendMessage(PEER, new MessageMedia('image/jpeg', jpeg.toString('base64')), PLAIN);
    const outMedia = await out.downloadMedia();
    expect(Buffer.from(outMedia.data, 'base64').equals(jpeg)).toBe(true);
    expect(requests).toEqual([]);
  });

  it("failNextSends({mode: 'reject', count: 2}) rejects the next two sends with the message and records nothing", async () => {
    const { client } = await startReady('fault-reject');
    expect(await callFake(page(client), 'failNextSends', { mode: 'reject', count: 2, message: 'no route to WhatsApp' })).toMatchObject({
      sendFaults: ['reject', 'reject'],
    });
    await expect(client.sendMessage(PEER, 'first', PLAIN)).rejects.toThrow('no route to WhatsApp');
    await expect(client.sendMessage(PEER, new MessageMedia('image/png', randomBytes(50).toString('base64')), PLAIN)).rejects.toThrow(
      'no route to WhatsApp',
    );
    expect(await sent(client)).toEqual([]);
    const third = await client.sendMessage(PEER, 'third', PLAIN);
    expect((await sent(client)).map((r) => r.id)).toEqual([third.id._serialized]);
  });

  it("failNextSends({mode: 'hang-before-record'}) never settles the send and records nothing; the next send works", async () => {
    const { client } = await startReady('fault-before');
    await callFake(page(client), 'failNextSends', { mode: 'hang-before-record' });
    const waId = newWaId();
    await chooseNextId(client, waId);
    const hung = client.sendMessage(PEER, 'lost in transit', PLAIN);
    hung.catch(() => undefined); // settles only when the browser closes
    expect(await settlesWithin(hung, 2_000)).toBe(false);
    expect(await sent(client)).toEqual([]);
    expect(await client.getMessageById(`true_${PEER}_${waId}`)).toBeNull();

    const next = await client.sendMessage(PEER, 'next', PLAIN);
    expect((await sent(client)).map((r) => r.id)).toEqual([next.id._serialized]);
  });

  it("failNextSends({mode: 'hang-after-record'}) records durably, never settles the send, and Msg.get finds it after a restart", async () => {
    const first = await startReady('fault-after');
    await callFake(page(first.client), 'failNextSends', { mode: 'hang-after-record' });
    const waId = newWaId();
    const id = `true_${PEER}_${waId}`;
    await chooseNextId(first.client, waId);
    const hung = first.client.sendMessage(PEER, 'sent, but nobody heard back', PLAIN);
    hung.catch(() => undefined);
    expect(await settlesWithin(hung, 2_000)).toBe(false);
    expect(await sent(first.client)).toMatchObject([{ id, waId, body: 'sent, but nobody heard back' }]);
    expect((await first.client.getMessageById(id)).body).toBe('sent, but nobody heard back');
    const browser = first.client.pupBrowser;
    const pid = browser?.process()?.pid;
    if (!browser || !pid) throw new Error('no browser process');
    // The harshest end: the browser killed, nothing closed cleanly.
    const gone = new Promise((resolve) => browser.once('disconnected', resolve));
    process.kill(-pid, 'SIGKILL');
    await gone;
    await shutdown(first.client);

    const second = await restart('fault-after');
    expect(await sent(second.client)).toMatchObject([{ id, waId }]);
    expect((await second.client.getMessageById(id)).body).toBe('sent, but nobody heard back');
    // The mode was for that page load only.
    const next = await second.client.sendMessage(PEER, 'next', PLAIN);
    expect((await sent(second.client)).map((r) => r.id)).toEqual([id, next.id._serialized]);
  });
});
