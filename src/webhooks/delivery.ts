import { backoffDelay } from '../../lib/backoff.js';
import { CodedError } from '../../lib/errors.js';
import type { OutboxRow } from './outbox.js';
import { signBody } from './sign.js';

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

/** What a receiver gets: the body it parses, and headers it can route and deduplicate on without parsing. */
export function buildRequest(row: OutboxRow, secret: string | undefined): WebhookRequest {
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
  };
  if (secret) headers['X-Signature'] = signBody(body, secret);
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
