import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from '../../../src/webhooks/sign.js';

const body = '{"id":"e1"}';
const secret = 'top-secret';
// printf '%s' '{"id":"e1"}' | openssl dgst -sha256 -hmac top-secret
const expected = 'sha256=2ec7fe0739280f2e67381b5e9734a0a6c9be9b3c0e97d99eed08c3a251543673';

describe('signBody', () => {
  it('returns sha256=<hex HMAC-SHA256 of the body>, matching openssl', () => {
    expect(signBody(body, secret)).toBe(expected);
  });

  it('signs the UTF-8 bytes, so non-ASCII bodies verify on any receiver', () => {
    const text = '{"name":"café ✓"}';
    expect(verifySignature(text, signBody(text, secret), secret)).toBe(true);
    expect(signBody(text, secret)).not.toBe(signBody('{"name":"cafe ?"}', secret));
  });

  it('refuses an empty secret instead of producing a signature anyone can compute', () => {
    expect(() => signBody(body, '')).toThrow(RangeError);
  });
});

describe('verifySignature', () => {
  it('accepts the signature of the body under the same secret', () => {
    expect(verifySignature(body, expected, secret)).toBe(true);
  });

  it('accepts the hex digest in upper case', () => {
    expect(verifySignature(body, `sha256=${expected.slice(7).toUpperCase()}`, secret)).toBe(true);
  });

  it('rejects a tampered body, another secret, or a flipped digit', () => {
    expect(verifySignature('{"id":"e2"}', expected, secret)).toBe(false);
    expect(verifySignature(body, expected, 'other-secret')).toBe(false);
    const flipped = expected.slice(0, -1) + (expected.endsWith('3') ? '4' : '3');
    expect(verifySignature(body, flipped, secret)).toBe(false);
  });

  it('rejects malformed headers without throwing', () => {
    for (const header of [undefined, null, '', 'sha256=', expected.slice(7), `sha1=${expected.slice(7)}`, `${expected}00`, 'sha256=zz', `sha256=${'g'.repeat(64)}`]) {
      expect(verifySignature(body, header, secret)).toBe(false);
    }
  });

  it('rejects everything when the receiver has no secret', () => {
    expect(verifySignature(body, expected, '')).toBe(false);
  });
});
