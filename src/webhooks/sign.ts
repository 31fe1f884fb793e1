import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'sha256=';
const HEX_DIGEST = /^[0-9a-f]{64}$/;

/** The header of the timestamped signature (`t=<unix seconds>,v1=<hex>`). */
export const SIGNATURE_HEADER = 'X-Signature';
/** The send time, unix seconds; the same `t` as in the signature. */
export const TIMESTAMP_HEADER = 'X-Webhook-Timestamp';
/**
 * Deprecated, kept for one release: the body-only signature (`sha256=<hex>`) that X-Signature
 * carried before timestamps. It proves nothing about when a delivery was sent, so a captured one
 * can be replayed for ever; receivers should move to X-Signature.
 */
export const LEGACY_SIGNATURE_HEADER = 'X-Webhook-Signature';

function hmacHex(payload: string, secret: string): string {
  return createHmac('sha256', secret).update(payload, 'utf8').digest('hex');
}

function requireSecret(secret: string, who: string): void {
  if (secret.length === 0) throw new RangeError(`${who}: secret must not be empty`);
}

/**
 * The timestamped signature of a webhook: `t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<body>">`, `ts`
 * the send time in unix seconds. Signing the time with the body lets a receiver refuse a
 * delivery replayed later. An empty secret is refused: a signature anyone can compute would
 * only look like protection.
 */
export function signTimestamped(body: string, secret: string, timestampSec: number): string {
  requireSecret(secret, 'signTimestamped');
  if (!Number.isSafeInteger(timestampSec) || timestampSec < 0) throw new RangeError(`signTimestamped: bad timestamp ${timestampSec}`);
  return `t=${timestampSec},v1=${hmacHex(`${timestampSec}.${body}`, secret)}`;
}

/** Whether `hex` is the HMAC of `payload` under `secret`, compared in constant time. */
export function hmacMatches(payload: string, hex: string, secret: string): boolean {
  const given = hex.toLowerCase();
  if (secret.length === 0 || !HEX_DIGEST.test(given)) return false;
  return timingSafeEqual(Buffer.from(given, 'hex'), Buffer.from(hmacHex(payload, secret), 'hex'));
}

/**
 * The legacy body-only value (`sha256=<hex HMAC-SHA256 of the body>`), sent in
 * X-Webhook-Signature for one more release.
 */
export function signBody(body: string, secret: string): string {
  requireSecret(secret, 'signBody');
  return PREFIX + hmacHex(body, secret);
}

/**
 * Whether `header` is the legacy body-only signature of `body` under `secret`, compared in
 * constant time. No protection against replays: prefer verifyWebhook (./verify.ts).
 */
export function verifySignature(body: string, header: string | null | undefined, secret: string): boolean {
  if (typeof header !== 'string' || !header.startsWith(PREFIX)) return false;
  return hmacMatches(body, header.slice(PREFIX.length), secret);
}

/** A fresh per-instance webhook secret: `whsec_` and 32 random bytes, base64url. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}
