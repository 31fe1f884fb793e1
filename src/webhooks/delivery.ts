import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { backoffDelay } from '../../lib/backoff.js';
import { CodedError } from '../../lib/errors.js';
import { guardedLookup, ipLiteral, publicAddresses, type ResolveHost } from './address-guard.js';
import type { OutboxRow } from './outbox.js';
import { LEGACY_SIGNATURE_HEADER, SIGNATURE_HEADER, signBody, signTimestamped, TIMESTAMP_HEADER } from './sign.js';

/*
 * One webhook delivery: the request a row turns into (pure, so the body, and with it the
 * signature, is the same on every retry) and the HTTP POST that sends it.
 */

export const WebhookErrorCode = {
  /** The receiver answered, with a status other than 2xx. */
  REJECTED: 'WEBHOOK_REJECTED',
  /** No answer at all: DNS, refused connection, reset, TLS. */
  UNREACHABLE: 'WEBHOOK_UNREACHABLE',
  TIMEOUT: 'WEBHOOK_TIMEOUT',
} as const;
export type WebhookErrorCode = (typeof WebhookErrorCode)[keyof typeof WebhookErrorCode];

export class WebhookDeliveryError extends CodedError {
  constructor(
    code: WebhookErrorCode,
    message: string,
    /** The receiver's HTTP status, when it answered. */
    readonly statusCode: number | null,
    cause?: unknown,
  ) {
    super(code, message, { cause });
  }
}

export interface WebhookRequest {
  body: string;
  headers: Record<string, string>;
}

/**
 * What a receiver gets: the body it parses, and headers it can route and deduplicate on without
 * parsing. Built at send time: `sentAtSec` (unix seconds) is in X-Webhook-Timestamp and inside
 * the signature (`X-Signature: t=<ts>,v1=<HMAC of "<ts>.<body>">`), so a retry carries the
 * time of its own attempt; the body is the same on every attempt. The body-only signature goes
 * in X-Webhook-Signature for one more release.
 */
export function buildRequest(row: OutboxRow, secret: string | undefined, sentAtSec: number = Math.floor(Date.now() / 1000)): WebhookRequest {
  const body = JSON.stringify({
    id: row.eventId,
    event: row.event,
    severity: row.severity,
    instanceId: row.instanceId,
    timestamp: row.createdAt.toISOString(),
    data: row.payload,
  });
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'X-Webhook-Id': row.eventId,
    'X-Webhook-Event': row.event,
    [TIMESTAMP_HEADER]: String(sentAtSec),
  };
  if (secret) {
    headers[SIGNATURE_HEADER] = signTimestamped(body, secret, sentAtSec);
    headers[LEGACY_SIGNATURE_HEADER] = signBody(body, secret);
  }
  return { body, headers };
}

/** Wait before the next try after `attempts` failures (1-based): base, 2·base, 4·base, … up to maxMs. */
export function retryDelayMs(attempts: number, opts: { baseMs: number; maxMs: number }): number {
  return backoffDelay(Math.max(0, attempts - 1), { baseMs: opts.baseMs, maxMs: opts.maxMs, jitterMs: 0, factor: 2 });
}

/** The innermost message of a fetch failure: undici says "fetch failed" and hides the reason in `cause`. */
function describeNetworkError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 4; e = e.cause) parts.push(e.message);
  return parts.join(': ') || String(err);
}

/**
 * POSTs the request and resolves with the 2xx status, or rejects with a WebhookDeliveryError.
 * Redirects are not followed: a receiver that moved must be reconfigured, not chased. When
 * `signal` aborts (shutdown) the request is dropped and its error is the abort reason.
 */
export async function postWebhook(
  fetchFn: typeof fetch,
  url: string,
  request: WebhookRequest,
  opts: { timeoutMs: number; signal: AbortSignal },
): Promise<number> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  let response: Response;
  try {
    response = await fetchFn(url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.any([timeout, opts.signal]),
    });
  } catch (err) {
    if (opts.signal.aborted) throw opts.signal.reason;
    if (timeout.aborted) {
      throw new WebhookDeliveryError(WebhookErrorCode.TIMEOUT, `no answer within ${opts.timeoutMs} ms`, null, err);
    }
    throw new WebhookDeliveryError(WebhookErrorCode.UNREACHABLE, describeNetworkError(err), null, err);
  }
  // The body is never used; cancelling it frees the connection without reading what may be large.
  await response.body?.cancel().catch(() => undefined);
  if (response.status < 200 || response.status > 299) {
    const text = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
    throw new WebhookDeliveryError(WebhookErrorCode.REJECTED, text, response.status);
  }
  return response.status;
}

/**
 * Like postWebhook, for a URL set by an instance's own key: the host's addresses are resolved
 * through `resolve` and checked when the socket connects, and the socket connects to an address
 * that passed (no second lookup a rebinding name could answer differently). A refused address is
 * UNREACHABLE: the delivery is not made.
 */
export async function postGuardedWebhook(
  url: string,
  request: WebhookRequest,
  opts: { timeoutMs: number; signal: AbortSignal; resolve: ResolveHost },
): Promise<number> {
  const target = new URL(url);
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = AbortSignal.any([timeout, opts.signal]);
  let response: IncomingMessage;
  try {
    // An IP literal never reaches a lookup: it is checked here.
    if (ipLiteral(target.hostname) !== null) await publicAddresses(target.hostname, opts.resolve);
    response = await new Promise<IncomingMessage>((resolve, reject) => {
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(
        target,
        {
          method: 'POST',
          headers: { ...request.headers, 'Content-Length': String(Buffer.byteLength(request.body)) },
          lookup: guardedLookup(opts.resolve) as never,
          signal,
          agent: false,
        },
        resolve,
      );
      req.on('error', reject);
      req.end(request.body);
    });
  } catch (err) {
    if (opts.signal.aborted) throw opts.signal.reason;
    if (timeout.aborted) throw new WebhookDeliveryError(WebhookErrorCode.TIMEOUT, `no answer within ${opts.timeoutMs} ms`, null, err);
    throw new WebhookDeliveryError(WebhookErrorCode.UNREACHABLE, describeNetworkError(err), null, err);
  }
  response.destroy();
  const status = response.statusCode ?? 0;
  if (status < 200 || status > 299) {
    throw new WebhookDeliveryError(WebhookErrorCode.REJECTED, `HTTP ${status}${response.statusMessage ? ` ${response.statusMessage}` : ''}`, status);
  }
  return status;
}
