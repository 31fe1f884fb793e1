import { hmacMatches } from './sign.js';

/*
 * What a receiver runs on every delivery (the README's receiver is these lines): the X-Signature
 * header must be `t=<ts>,v1=<hex>` with the HMAC-SHA256 of "<ts>.<body>" under the receiver's
 * secret, and `ts` within `toleranceSec` of the receiver's clock, either way. A delivery replayed
 * after the tolerance fails, though its body and signature are genuine.
 */

export interface VerifyOptions {
  /** Largest difference between the signed send time and now. Default 300 s (5 minutes). */
  toleranceSec?: number;
  /** The receiver's clock, epoch milliseconds. Default Date.now(). */
  now?: number;
}

type HeaderValue = string | readonly string[] | null | undefined;
/** Node's `req.headers`, a fetch `Headers`, or a plain object (names in any case). */
export type WebhookHeaders = Record<string, HeaderValue> | { get(name: string): string | null };

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers as Record<string, HeaderValue>)) {
    if (key.toLowerCase() !== wanted) continue;
    return typeof value === 'string' ? value : (value?.[0] ?? undefined);
  }
  return undefined;
}

/** True when the delivery is signed by `secret`, and was sent within the tolerance of `now`. */
export function verifyWebhook(secret: string, headers: WebhookHeaders, body: string, options: VerifyOptions = {}): boolean {
  const toleranceSec = options.toleranceSec ?? 300;
  const now = options.now ?? Date.now();
  const signature = header(headers, 'x-signature');
  if (!secret || !signature) return false;
  const parts = new Map(signature.split(',').map((p) => [p.slice(0, p.indexOf('=')).trim(), p.slice(p.indexOf('=') + 1).trim()]));
  const t = parts.get('t') ?? '';
  const v1 = parts.get('v1') ?? '';
  if (!/^\d{1,12}$/.test(t)) return false;
  // X-Webhook-Timestamp is informational; when present it must be the signed time.
  const stamped = header(headers, 'x-webhook-timestamp');
  if (stamped !== undefined && stamped !== t) return false;
  if (Math.abs(now / 1000 - Number(t)) > toleranceSec) return false;
  return hmacMatches(`${t}.${body}`, v1, secret);
}
