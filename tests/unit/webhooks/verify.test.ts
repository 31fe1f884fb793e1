import { describe, expect, it } from 'vitest';
import { signTimestamped } from '../../../src/webhooks/sign.js';
import { verifyWebhook } from '../../../src/webhooks/verify.js';

const secret = 'whsec_test';
const body = '{"id":"e1","event":"connection.update"}';
const t = 1_768_473_045;
const now = t * 1000;
const headers = { 'x-signature': signTimestamped(body, secret, t), 'x-webhook-timestamp': String(t) };

describe('signTimestamped', () => {
  it('is t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<body>">, matching openssl', () => {
    // printf '%s' '1768473045.{"id":"e1","event":"connection.update"}' | openssl dgst -sha256 -hmac whsec_test
    expect(signTimestamped(body, secret, t)).toBe('t=1768473045,v1=2f8a5a2367c1200700dd421e8132d5f69fda58c88dd128a845e4afc2c3e3eebc');
    expect(signTimestamped(body, secret, t)).toMatch(/^t=1768473045,v1=[0-9a-f]{64}$/);
    expect(() => signTimestamped(body, '', t)).toThrow(RangeError);
  });
});

describe('verifyWebhook', () => {
  it('accepts a delivery signed with the secret within 5 minutes either way', () => {
    expect(verifyWebhook(secret, headers, body, { now })).toBe(true);
    expect(verifyWebhook(secret, headers, body, { now: now + 299_000 })).toBe(true);
    expect(verifyWebhook(secret, headers, body, { now: now - 299_000 })).toBe(true);
  });

  it('refuses a replay past the tolerance, however genuine', () => {
    expect(verifyWebhook(secret, headers, body, { now: now + 301_000 })).toBe(false);
    expect(verifyWebhook(secret, headers, body, { now: now + 600_000 })).toBe(false);
    expect(verifyWebhook(secret, headers, body, { now: now + 600_000, toleranceSec: 900 })).toBe(true);
  });

  it('refuses another secret, a changed body, a changed time and a time header that is not the signed one', () => {
    expect(verifyWebhook('whsec_other', headers, body, { now })).toBe(false);
    expect(verifyWebhook(secret, headers, body.replace('e1', 'e2'), { now })).toBe(false);
    expect(verifyWebhook(secret, { ...headers, 'x-signature': headers['x-signature'].replace(`t=${t}`, `t=${t + 1}`) }, body, { now })).toBe(false);
    expect(verifyWebhook(secret, { ...headers, 'x-webhook-timestamp': String(t + 1) }, body, { now })).toBe(false);
  });

  it('reads headers in any case, from a plain object or a fetch Headers, and does without X-Webhook-Timestamp', () => {
    expect(verifyWebhook(secret, { 'X-Signature': headers['x-signature'] }, body, { now })).toBe(true);
    expect(verifyWebhook(secret, new Headers(headers), body, { now })).toBe(true);
  });

  it('refuses malformed or missing signatures, and everything without a secret, without throwing', () => {
    for (const sig of [undefined, '', 'sha256=abc', `t=${t}`, `v1=${'0'.repeat(64)}`, `t=abc,v1=${'0'.repeat(64)}`, `t=${t},v1=zz`, `t=-1,v1=${'0'.repeat(64)}`]) {
      expect(verifyWebhook(secret, sig === undefined ? {} : { 'x-signature': sig }, body, { now })).toBe(false);
    }
    expect(verifyWebhook('', headers, body, { now })).toBe(false);
  });
});
