import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { requestHash, sendBodySchema, type SendBody } from '../../../src/messages/send-request.js';

/** The first issue as the API reports it (`path: message`), or null when the body is valid. */
function problem(body: unknown): string | null {
  const result = sendBodySchema.safeParse(body);
  if (result.success) return null;
  const issue = result.error.issues[0]!;
  return `${issue.path.length > 0 ? issue.path.join('.') : 'body'}: ${issue.message}`;
}

const TO = '+4915112345678';
const B64 = Buffer.from('%PDF-1.7 tiny').toString('base64');

describe('sendBodySchema', () => {
  it.each<[string, unknown]>([
    ['a text', { to: TO, text: 'Hello' }],
    ['a text of only emoji', { to: TO, text: '👋' }],
    ['a text with surrounding whitespace, kept as is', { to: TO, text: '  spaced  ' }],
    ['a text of 65536 characters', { to: TO, text: 'x'.repeat(65_536) }],
    ['a reply to a received message', { to: TO, text: 'yes', replyTo: 'false_4915112345678@c.us_3EB0C0FFEE1234567890AB' }],
    ['a reply to our own message', { to: TO, text: 'yes', replyTo: 'true_4915112345678@c.us_3EB0C0FFEE1234567890AB' }],
    ['a reply in a group', { to: '120363025246125888@g.us', text: 'yes', replyTo: 'false_120363025246125888@g.us_3A1B2C3D4E5F_4915112345678@c.us' }],
    ['media by URL', { to: TO, media: { url: 'https://files.example/report.pdf' } }],
    ['media by URL with type, name and caption', { to: TO, media: { url: 'http://files.example/r', mimetype: 'application/pdf', filename: 'Report 2026.pdf' }, caption: 'the report' }],
    ['media as base64 with its type', { to: TO, media: { base64: B64, mimetype: 'application/pdf' } }],
    ['a caption of 4096 characters', { to: TO, media: { base64: B64, mimetype: 'application/pdf' }, caption: 'c'.repeat(4096) }],
    ['a group', { to: '4915112345678-1612345678@g.us', text: 'hi all' }],
  ])('accepts %s', (_what, body) => {
    expect(problem(body)).toBeNull();
  });

  it.each<[string, unknown, string]>([
    ['neither text nor media', { to: TO }, 'body: give exactly one of text or media'],
    ['both text and media', { to: TO, text: 'x', media: { url: 'https://f.example/a.pdf' } }, 'body: give exactly one of text or media'],
    ['no recipient', { text: 'x' }, 'to: '],
    ['a recipient with spaces', { to: '+49 151 12345678', text: 'x' }, 'to: must be written as digits only, without spaces'],
    ['a recipient in another library’s form', { to: '4915112345678@s.whatsapp.net', text: 'x' }, 'to: must be a phone number in international format'],
    ['status broadcast', { to: 'status@broadcast', text: 'x' }, 'to: must be '],
    ['an empty text', { to: TO, text: '' }, 'text: '],
    ['a text of only whitespace', { to: TO, text: ' \n\t ' }, 'text: must not be only whitespace'],
    ['a text over 65536 characters', { to: TO, text: 'x'.repeat(65_537) }, 'text: '],
    ['a caption without media', { to: TO, text: 'x', caption: 'c' }, 'caption: is only allowed with media'],
    ['an empty caption', { to: TO, media: { url: 'https://f.example/a.pdf' }, caption: '' }, 'caption: '],
    ['a caption over 4096 characters', { to: TO, media: { url: 'https://f.example/a.pdf' }, caption: 'c'.repeat(4097) }, 'caption: '],
    ['media with neither url nor base64', { to: TO, media: { mimetype: 'application/pdf' } }, 'media: give exactly one of url or base64'],
    ['media with both url and base64', { to: TO, media: { url: 'https://f.example/a.pdf', base64: B64, mimetype: 'application/pdf' } }, 'media: give exactly one of url or base64'],
    ['base64 without a type', { to: TO, media: { base64: B64 } }, 'media.mimetype: is required with base64'],
    ['a URL that is not http(s)', { to: TO, media: { url: 'ftp://f.example/a.pdf' } }, 'media.url: must be an http(s) URL'],
    ['a URL that is no URL', { to: TO, media: { url: 'report.pdf' } }, 'media.url: must be an http(s) URL'],
    ['a file name with a path', { to: TO, media: { url: 'https://f.example/a', filename: '../a.pdf' } }, 'media.filename: must not contain / or \\ or control characters'],
    ['a file name with a backslash', { to: TO, media: { url: 'https://f.example/a', filename: 'c:\\a.pdf' } }, 'media.filename: must not contain'],
    ['a file name with a control character', { to: TO, media: { url: 'https://f.example/a', filename: 'a\u0007.pdf' } }, 'media.filename: must not contain'],
    ['an empty file name', { to: TO, media: { url: 'https://f.example/a', filename: '' } }, 'media.filename: '],
    ['a file name over 255 characters', { to: TO, media: { url: 'https://f.example/a', filename: `${'n'.repeat(252)}.pdf` } }, 'media.filename: '],
    ['an unknown media field', { to: TO, media: { url: 'https://f.example/a', path: '/etc/passwd' } }, 'media: '],
    ['an unknown field', { to: TO, text: 'x', priority: 'high' }, 'body: '],
    ['a reply id that is no serialized id', { to: TO, text: 'x', replyTo: '3EB0C0FFEE' }, 'replyTo: must be a serialized WhatsApp message id'],
    ['a reply id over 200 characters', { to: TO, text: 'x', replyTo: `true_4915112345678@c.us_${'A'.repeat(180)}` }, 'replyTo: '],
    ['a number as text', { to: TO, text: 42 }, 'text: '],
    ['not an object', 'hello', 'body: '],
  ])('refuses %s', (_what, body, expected) => {
    expect(problem(body)).toMatch(new RegExp(`^${expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('is strict at the top level', () => {
    expect(sendBodySchema.safeParse({ to: TO, text: 'x', extra: 1 }).success).toBe(false);
  });
});

describe('requestHash', () => {
  const text: SendBody = { to: TO, text: 'Hello' };
  const media: SendBody = { to: TO, media: { url: 'https://files.example/r.pdf', mimetype: 'application/pdf', filename: 'r.pdf' }, caption: 'the report' };
  const sha = 'a'.repeat(64);

  it('is sha256 hex, and the same for the same request', () => {
    expect(requestHash('sales-01', text, null)).toMatch(/^[0-9a-f]{64}$/);
    expect(requestHash('sales-01', { ...text }, null)).toBe(requestHash('sales-01', text, null));
    expect(requestHash('sales-01', media, sha)).toBe(requestHash('sales-01', structuredClone(media), sha));
  });

  it('does not depend on the order of the fields in the body', () => {
    const reordered = { caption: 'the report', media: { filename: 'r.pdf', mimetype: 'application/pdf', url: 'https://files.example/r.pdf' }, to: TO } as SendBody;
    expect(requestHash('sales-01', reordered, sha)).toBe(requestHash('sales-01', media, sha));
  });

  it('treats the forms of one recipient, and one type written differently, as one request', () => {
    expect(requestHash('sales-01', { to: '4915112345678@c.us', text: 'Hello' }, null)).toBe(requestHash('sales-01', text, null));
    expect(requestHash('sales-01', { to: '4915112345678', text: 'Hello' }, null)).toBe(requestHash('sales-01', text, null));
    const upper = { ...media, media: { ...media.media, mimetype: 'Application/PDF; q=1' } } as SendBody;
    expect(requestHash('sales-01', upper, sha)).toBe(requestHash('sales-01', media, sha));
  });

  it('changes with anything that changes the message', () => {
    const base = requestHash('sales-01', media, sha);
    const variants: Array<[string, SendBody, string | null]> = [
      ['instance', media, sha],
      ['recipient', { ...media, to: '4915112345679' }, sha],
      ['caption', { ...media, caption: 'the report!' }, sha],
      ['no caption', { to: TO, media: media.media }, sha],
      ['url', { ...media, media: { ...media.media, url: 'https://files.example/s.pdf' } }, sha],
      ['file name', { ...media, media: { ...media.media, filename: 's.pdf' } }, sha],
      ['content', media, 'b'.repeat(64)],
      ['reply', { ...media, replyTo: 'true_4915112345678@c.us_3EB0AA' }, sha],
    ];
    const hashes = variants.map(([what, body, s]) => [what, requestHash(what === 'instance' ? 'sales-02' : 'sales-01', body, s)]);
    for (const [what, hash] of hashes) expect(hash, what).not.toBe(base);
    expect(new Set(hashes.map(([, h]) => h)).size).toBe(variants.length);
  });

  it('tells a text from a caption with the same words', () => {
    expect(requestHash('sales-01', { to: TO, text: 'x' }, null)).not.toBe(requestHash('sales-01', { to: TO, media: { url: 'https://f.example/a' }, caption: 'x' }, null));
  });

  it('identifies base64 media by its content: the given sha256, or else the sha256 of its text', () => {
    const a: SendBody = { to: TO, media: { base64: B64, mimetype: 'application/pdf' } };
    const b: SendBody = { to: TO, media: { base64: Buffer.from('other').toString('base64'), mimetype: 'application/pdf' } };
    expect(requestHash('sales-01', a, null)).not.toBe(requestHash('sales-01', b, null));
    expect(requestHash('sales-01', a, sha)).toBe(requestHash('sales-01', b, sha));
    const ofBytes = createHash('sha256').update(Buffer.from(B64, 'base64')).digest('hex');
    expect(requestHash('sales-01', a, ofBytes)).not.toBe(requestHash('sales-01', b, createHash('sha256').update('other').digest('hex')));
  });
});
