import { describe, expect, it } from 'vitest';
import { buildRequest, postWebhook, retryDelayMs, WebhookDeliveryError } from '../../../src/webhooks/delivery.js';
import type { OutboxRow } from '../../../src/webhooks/outbox.js';
import { verifySignature } from '../../../src/webhooks/sign.js';
import { verifyWebhook } from '../../../src/webhooks/verify.js';

const row: OutboxRow = {
  id: 7,
  eventId: '3b241101-e2bb-4255-8caf-4136c566a962',
  instanceId: 'sales-01',
  event: 'connection.update',
  severity: 'LOW',
  url: 'http://127.0.0.1:1/hook',
  signer: 'instance',
  urlScope: 'admin',
  payload: { status: 'CONNECTED', previous: 'LOADING' },
  attempts: 0,
  createdAt: new Date('2026-01-15T10:30:45.123Z'),
};

const never = new AbortController().signal;

/** A fetch stand-in that answers with `status`, remembering what it was given. */
function answering(status: number) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fn = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response('ignored', { status });
  }) as unknown as typeof fetch;
  return { fn, calls };
}

/** A fetch stand-in that never answers, rejecting only when its signal aborts. */
const hanging = ((_url: string, init: RequestInit) =>
  new Promise((_resolve, reject) => {
    init.signal?.addEventListener('abort', () => reject(init.signal?.reason), { once: true });
  })) as unknown as typeof fetch;

describe('buildRequest', () => {
  it('puts id, event, severity, instanceId, ISO timestamp and the payload as data in the body', () => {
    const { body } = buildRequest(row, undefined);
    expect(JSON.parse(body)).toEqual({
      id: row.eventId,
      event: 'connection.update',
      severity: 'LOW',
      instanceId: 'sales-01',
      timestamp: '2026-01-15T10:30:45.123Z',
      data: { status: 'CONNECTED', previous: 'LOADING' },
    });
  });

  it('sends the event id, name and send time as headers and signs the send time with the exact body when a secret is set', () => {
    const sentAt = 1_768_473_045;
    const { body, headers } = buildRequest(row, 's3cret', sentAt);
    expect(headers).toMatchObject({
      'Content-Type': 'application/json',
      'X-Webhook-Id': row.eventId,
      'X-Webhook-Event': 'connection.update',
      'X-Webhook-Timestamp': String(sentAt),
    });
    expect(headers['X-Signature']).toMatch(new RegExp(`^t=${sentAt},v1=[0-9a-f]{64}$`));
    expect(verifyWebhook('s3cret', headers, body, { now: sentAt * 1000 })).toBe(true);
    // The body-only signature, kept one more release under its own header.
    expect(verifySignature(body, headers['X-Webhook-Signature'], 's3cret')).toBe(true);
  });

  it('sends no signature without a secret, an empty one included, but always the send time', () => {
    for (const secret of [undefined, '']) {
      const { headers } = buildRequest(row, secret, 1);
      expect(headers).not.toHaveProperty('X-Signature');
      expect(headers).not.toHaveProperty('X-Webhook-Signature');
      expect(headers['X-Webhook-Timestamp']).toBe('1');
    }
  });

  it('builds the same body on every retry; only the send time (and so the signature) differs', () => {
    expect(buildRequest({ ...row, attempts: 3 }, 'k', 100)).toEqual(buildRequest(row, 'k', 100));
    const [a, b] = [buildRequest(row, 'k', 100), buildRequest(row, 'k', 160)];
    expect(a.body).toBe(b.body);
    expect(a.headers['X-Signature']).not.toBe(b.headers['X-Signature']);
  });
});

describe('retryDelayMs', () => {
  it('waits the base after the first failure and doubles after each further one, up to the ceiling', () => {
    const opts = { baseMs: 5_000, maxMs: 60_000 };
    expect([1, 2, 3, 4, 5, 6].map((a) => retryDelayMs(a, opts))).toEqual([5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
  });
});

describe('postWebhook', () => {
  it('POSTs the body and headers without following redirects and resolves with a 2xx status', async () => {
    const { fn, calls } = answering(202);
    const request = buildRequest(row, 'k');
    await expect(postWebhook(fn, row.url, request, { timeoutMs: 1_000, signal: never })).resolves.toBe(202);
    expect(calls[0]?.url).toBe(row.url);
    expect(calls[0]?.init).toMatchObject({ method: 'POST', body: request.body, headers: request.headers, redirect: 'manual' });
  });

  it('rejects a non-2xx answer, a redirect included, as WEBHOOK_REJECTED with the status', async () => {
    for (const status of [302, 404, 500]) {
      const error = await postWebhook(answering(status).fn, row.url, buildRequest(row, undefined), { timeoutMs: 1_000, signal: never }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(WebhookDeliveryError);
      expect(error).toMatchObject({ code: 'WEBHOOK_REJECTED', statusCode: status });
    }
  });

  it('reports a network failure as WEBHOOK_UNREACHABLE with the underlying reason', async () => {
    const refused = (async () => {
      throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') });
    }) as unknown as typeof fetch;
    const error = await postWebhook(refused, row.url, buildRequest(row, undefined), { timeoutMs: 1_000, signal: never }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'WEBHOOK_UNREACHABLE', statusCode: null, message: 'fetch failed: connect ECONNREFUSED 127.0.0.1:1' });
  });

  it('gives up on a receiver that does not answer within the timeout as WEBHOOK_TIMEOUT', async () => {
    const error = await postWebhook(hanging, row.url, buildRequest(row, undefined), { timeoutMs: 50, signal: never }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'WEBHOOK_TIMEOUT', statusCode: null });
  });

  it('rejects with the abort reason when the caller aborts (shutdown), not as a delivery failure', async () => {
    const controller = new AbortController();
    const reason = new Error('stopping');
    const sent = postWebhook(hanging, row.url, buildRequest(row, undefined), { timeoutMs: 10_000, signal: controller.signal });
    controller.abort(reason);
    await expect(sent).rejects.toBe(reason);
  });
});
