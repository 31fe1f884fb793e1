import wwebjs from 'whatsapp-web.js';
import { describe, expect, it } from 'vitest';
import { messageEventOf, quotedIdOf } from '../../../src/worker/message-driver.js';
import { EVENT_SCHEMAS, LIMITS, REPLY_SCHEMAS, REQUEST_SCHEMAS } from '../../../src/worker/messages.js';
import { WorkerEvent } from '../../../src/worker/protocol.js';

const ME = '15550001234@c.us';
const PEER = '15550009876@c.us';
const GROUP = '120363040000000000@g.us';

const incoming = {
  id: `false_${PEER}_3EB0AAAABBBBCCCCDDDD11`,
  chatId: PEER,
  from: PEER,
  to: ME,
  fromMe: false,
  type: 'chat',
  body: 'hello',
  timestamp: 1_760_000_000,
  hasMedia: false,
  quotedId: null,
  author: null,
};

const message = EVENT_SCHEMAS[WorkerEvent.MESSAGE];
const ack = EVENT_SCHEMAS[WorkerEvent.MESSAGE_ACK];
const accepts = (schema: { safeParse(v: unknown): { success: boolean } }, value: unknown) => schema.safeParse(value).success;

describe('the message event schema', () => {
  it.each([
    ['an incoming text', incoming],
    ['one sent from the phone', { ...incoming, id: `true_${PEER}_3A1B2C`, fromMe: true, from: ME, to: PEER }],
    ['a reply', { ...incoming, quotedId: `true_${PEER}_3EB0FFFF` }],
    ['a group message (four-part id, author)', { ...incoming, id: `false_${GROUP}_ABC123_${PEER}`, chatId: GROUP, from: GROUP, author: PEER }],
    ['a media message with no caption and no timestamp', { ...incoming, type: 'image', body: '', hasMedia: true, timestamp: null }],
    ['a body of exactly the limit', { ...incoming, body: 'x'.repeat(LIMITS.body) }],
  ])('accepts %s', (_, payload) => {
    expect(message.parse(payload)).toEqual(payload);
  });

  it.each([
    ['a body over 65 536 characters', { body: 'x'.repeat(LIMITS.body + 1) }],
    ['an id over 200 characters', { id: `false_${PEER}_${'A'.repeat(200)}` }],
    ['an id that is not a serialized message id', { id: '3EB0AAAA' }],
    ['an id with a space', { id: `false_${PEER}_3EB0 AAAA` }],
    ['a chat id without a server', { chatId: '15550009876' }],
    ['a chat id with an underscore', { chatId: 'a_b@c.us' }],
    ['a from over 200 characters', { from: `${'1'.repeat(200)}@c.us` }],
    ['a malformed quotedId', { quotedId: 'someone-else' }],
    ['fromMe as a string', { fromMe: 'false' }],
    ['a negative timestamp', { timestamp: -1 }],
    ['a fractional timestamp', { timestamp: 1.5 }],
    ['hasMedia missing', { hasMedia: undefined }],
    ['a null body', { body: null }],
    ['a type over 64 characters', { type: 't'.repeat(65) }],
    ['an author that is a number', { author: 42 }],
  ])('refuses %s', (_, patch) => {
    expect(accepts(message, { ...incoming, ...patch })).toBe(false);
  });

  it('refuses what is not an object', () => {
    for (const value of [null, undefined, 'message', 42, []]) expect(accepts(message, value)).toBe(false);
  });
});

describe('the message_ack event schema', () => {
  const valid = { id: `true_${PEER}_3EB0AAAA`, chatId: PEER, ack: 3, fromMe: true };

  it('accepts every ack WhatsApp has (-1 error … 4 played)', () => {
    for (const value of [-1, 0, 1, 2, 3, 4]) expect(ack.parse({ ...valid, ack: value })).toEqual({ ...valid, ack: value });
  });

  it.each([
    ['an ack below -1', { ack: -2 }],
    ['an ack far above any WhatsApp has', { ack: 99 }],
    ['a fractional ack', { ack: 1.5 }],
    ['an ack as a string', { ack: '3' }],
    ['a malformed id', { id: 'x' }],
    ['an id over 200 characters', { id: `true_${PEER}_${'A'.repeat(200)}` }],
    ['a missing fromMe', { fromMe: undefined }],
    ['a missing chat', { chatId: undefined }],
  ])('refuses %s', (_, patch) => {
    expect(accepts(ack, { ...valid, ...patch })).toBe(false);
  });
});

describe('the replies', () => {
  it('send: a serialized id, a timestamp or null, and idMatched', () => {
    const ok = { waMessageId: `true_${PEER}_3EB0AAAA`, timestamp: 1_760_000_000, idMatched: true };
    expect(REPLY_SCHEMAS.send.parse(ok)).toEqual(ok);
    expect(accepts(REPLY_SCHEMAS.send, { ...ok, timestamp: null })).toBe(true);
    expect(accepts(REPLY_SCHEMAS.send, { ...ok, waMessageId: '3EB0AAAA' })).toBe(false);
    expect(accepts(REPLY_SCHEMAS.send, { ...ok, idMatched: undefined })).toBe(false);
    expect(accepts(REPLY_SCHEMAS.send, { ...ok, waMessageId: `true_${PEER}_${'A'.repeat(200)}` })).toBe(false);
  });

  it('find: found and an ack or null', () => {
    expect(accepts(REPLY_SCHEMAS.find, { found: true, ack: 1 })).toBe(true);
    expect(accepts(REPLY_SCHEMAS.find, { found: false, ack: null })).toBe(true);
    expect(accepts(REPLY_SCHEMAS.find, { found: 'yes', ack: null })).toBe(false);
    expect(accepts(REPLY_SCHEMAS.find, { found: true, ack: 50 })).toBe(false);
    expect(accepts(REPLY_SCHEMAS.find, { found: true })).toBe(false);
  });

  it('media: a mimetype, a filename or null, and base64 within the limit', () => {
    const ok = { mimetype: 'application/pdf', filename: 'report.pdf', data: Buffer.from('%PDF-1.4').toString('base64') };
    expect(REPLY_SCHEMAS.media.parse(ok)).toEqual(ok);
    expect(accepts(REPLY_SCHEMAS.media, { ...ok, filename: null })).toBe(true);
    expect(accepts(REPLY_SCHEMAS.media, { ...ok, data: 'not base64!' })).toBe(false);
    expect(accepts(REPLY_SCHEMAS.media, { ...ok, mimetype: '' })).toBe(false);
    expect(accepts(REPLY_SCHEMAS.media, { ...ok, filename: 'f'.repeat(LIMITS.filename + 1) })).toBe(false);
    expect(accepts(REPLY_SCHEMAS.media, { ...ok, data: 'A'.repeat(LIMITS.mediaBase64 + 4) })).toBe(false);
  });
});

describe('the send_message request', () => {
  const text = { chatId: PEER, waId: '3EB0ABCDEF0123456789AB', text: 'hi' };
  const media = { chatId: PEER, waId: '3EB0ABCDEF0123456789AC', media: { mimetype: 'image/png', filename: null, data: 'iVBORw0KGgo=' }, caption: 'look' };
  const send = REQUEST_SCHEMAS.send;

  it('accepts a text, a reply and a media message, and drops the timeout that travels with them', () => {
    expect(send.parse({ ...text, timeoutMs: 5_000 })).toEqual(text);
    expect(accepts(send, { ...text, quotedId: `false_${PEER}_ABC123` })).toBe(true);
    expect(accepts(send, { ...text, quotedId: null, caption: null })).toBe(true);
    expect(send.parse(media)).toEqual(media);
  });

  it.each([
    ['text and media together', { ...text, media: media.media }],
    ['neither text nor media', { chatId: PEER, waId: text.waId }],
    ['an empty text', { ...text, text: '' }],
    ['a text over 65 536 characters', { ...text, text: 'x'.repeat(LIMITS.body + 1) }],
    ['a caption without media', { ...text, caption: 'c' }],
    ['a waId with an underscore (it would split the serialized id)', { ...text, waId: '3EB0_AB' }],
    ['an empty waId', { ...text, waId: '' }],
    ['a waId over 128 characters', { ...text, waId: 'A'.repeat(129) }],
    ['a chat id without a server', { ...text, chatId: '15550009876' }],
    ['a malformed quotedId', { ...text, quotedId: 'ABC123' }],
    ['media that is not base64', { ...media, media: { ...media.media, data: '<svg/>' } }],
    ['media without a mimetype', { ...media, media: { ...media.media, mimetype: '' } }],
  ])('refuses %s', (_, payload) => {
    expect(accepts(send, payload)).toBe(false);
  });

  it('find, download and demo query requests are checked too', () => {
    expect(accepts(REQUEST_SCHEMAS.find, { chatId: PEER, waId: '3EB0AB' })).toBe(true);
    expect(accepts(REQUEST_SCHEMAS.find, { chatId: PEER, waId: '3EB0_AB' })).toBe(false);
    expect(accepts(REQUEST_SCHEMAS.downloadMedia, { messageId: `false_${PEER}_ABC` })).toBe(true);
    expect(accepts(REQUEST_SCHEMAS.downloadMedia, { messageId: 'ABC' })).toBe(false);
    expect(REQUEST_SCHEMAS.demoQuery.parse({ action: 'sent' })).toEqual({ action: 'sent', args: [] });
    expect(accepts(REQUEST_SCHEMAS.demoQuery, { action: 'constructor.call' })).toBe(false);
  });
});

describe('what the driver reports of a library message', () => {
  const data = (patch: Record<string, unknown>) => ({
    id: { fromMe: false, remote: PEER, id: 'ABC123', _serialized: `false_${PEER}_ABC123` },
    body: 'hello',
    type: 'chat',
    t: 1_760_000_000,
    from: PEER,
    to: ME,
    ...patch,
  });
  // The library exports its Message class at run time; its typings only describe the instances.
  const MessageClass = (wwebjs as unknown as { Message: new (client: unknown, data: unknown) => wwebjs.Message }).Message;
  const of = (patch: Record<string, unknown> = {}) => messageEventOf(new MessageClass(null, data(patch)), ME);

  it('passes the event schema, with the other party as the chat both ways', () => {
    const received = of();
    expect(message.parse(received)).toEqual({ ...incoming, id: `false_${PEER}_ABC123` });
    const own = of({ id: { fromMe: true, remote: PEER, id: 'XYZ', _serialized: `true_${PEER}_XYZ` }, from: ME, to: PEER });
    expect(message.parse(own)).toMatchObject({ chatId: PEER, fromMe: true });
  });

  it('rebuilds the serialized id of the quoted message from the reply context', () => {
    const quoting = (participant: string) => of({ quotedMsg: { type: 'chat', body: 'x' }, quotedStanzaID: '3EB0ABCD', quotedParticipant: { _serialized: participant } });
    expect(quoting(ME).quotedId).toBe(`true_${PEER}_3EB0ABCD`);
    expect(quoting(PEER).quotedId).toBe(`false_${PEER}_3EB0ABCD`);
    expect(message.parse(quoting(ME)).quotedId).toBe(`true_${PEER}_3EB0ABCD`);
    expect(of().quotedId).toBeNull();
  });

  it('quotedIdOf: a group adds the participant to others’ messages; an odd stanza id gives null', () => {
    expect(quotedIdOf({ quotedStanzaID: 'AB12', quotedParticipant: PEER }, GROUP, ME)).toBe(`false_${GROUP}_AB12_${PEER}`);
    expect(quotedIdOf({ quotedStanzaID: 'AB12', quotedParticipant: ME }, GROUP, ME)).toBe(`true_${GROUP}_AB12`);
    expect(quotedIdOf({ quotedStanzaID: 'AB_12' }, PEER, ME)).toBeNull();
    expect(quotedIdOf({}, PEER, ME)).toBeNull();
  });
});
