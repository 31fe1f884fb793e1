import { createHmac, timingSafeEqual } from 'node:crypto';

const PREFIX = 'sha256=';
const HEX_DIGEST = /^[0-9a-f]{64}$/;

function hmacHex(body: string, secret: string): string {
  return createHmac('sha256', secret).update(body, 'utf8').digest('hex');
}

/**
 * The `X-Signature` value of a webhook body: `sha256=<hex HMAC-SHA256 of the body>`. An empty
 * secret is refused: a signature anyone can compute would only look like protection.
 */
export function signBody(body: string, secret: string): string {
  if (secret.length === 0) throw new RangeError('signBody: secret must not be empty');
  return PREFIX + hmacHex(body, secret);
}

/**
 * Whether `header` is the signature of `body` under `secret`, compared in constant time so a
 * forger learns nothing from how long the check took. What a receiver runs on every delivery.
 */
export function verifySignature(body: string, header: string | null | undefined, secret: string): boolean {
  if (secret.length === 0 || typeof header !== 'string' || !header.startsWith(PREFIX)) return false;
  const given = header.slice(PREFIX.length).toLowerCase();
  if (!HEX_DIGEST.test(given)) return false;
  return timingSafeEqual(Buffer.from(given, 'hex'), Buffer.from(hmacHex(body, secret), 'hex'));
}
