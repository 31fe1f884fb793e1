import { pick, seededRandom } from '../../lib/seeded-random.js';

/** Ids and bodies an attacker or a broken client sends: traversal, encodings, injections, huge and deep payloads. */
const HOSTILE_IDS = [
  '../../etc', '..%2F..%2Fetc', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..', '.', 'a/../../b', '%00', 'x%00y', 'x'.repeat(65), 'x'.repeat(5000),
  'ünïcödé', '😀', '<script>alert(1)</script>', "'; DROP TABLE instances; --", 'CON', 'session-x', '-', '_', 'fuzz-ok', 'nul%0a',
  '%252e%252e', '....//', '~root', '$HOME', '%', '%zz', ' ', '%20', 'a b',
];
const BODIES: Array<string | undefined> = [
  undefined, '', '{', '{"id":', 'null', '[]', '[1,2,3]', '"string"', '12', '{"id": 1}', '{"id": null}', '{"id": "ok-1", "extra": true}',
  '{"id": "../../etc"}', '{"id": "fuzz-a", "enabled": "yes"}', '{"id": "fuzz-b", "webhookUrl": "file:///etc/passwd"}',
  '{"id": "fuzz-c", "webhookUrl": "javascript:alert(1)"}', '{"phone": 1e309}', '{"phone": "99999999999999999999999"}', '{"phone": ["1"]}',
  '{"phone": {"$gt": ""}}', '{"__proto__": {"admin": true}}', '{"constructor": {"prototype": {"x": 1}}}', '{"id": "fuzz-d", "enabled": 1e400}',
  JSON.stringify({ id: 'big', pad: 'x'.repeat(100_000) }), `{"a":${'['.repeat(5_000)}${']'.repeat(5_000)}}`, '\u0000\u0001', '{"id":"\\ud800"}',
];
const CREATE: [string, (id: string) => string] = ['POST', () => '/api/instances'];
const TEMPLATES: Array<[string, (id: string) => string]> = [
  CREATE,
  ['GET', () => '/api/instances'],
  ['GET', (id) => `/api/instance/${id}/details`],
  ['POST', (id) => `/api/instance/${id}/enable`],
  ['POST', (id) => `/api/instance/${id}/disable`],
  ['POST', (id) => `/api/instance/${id}/restart`],
  ['POST', (id) => `/api/instance/${id}/logout`],
  ['DELETE', (id) => `/api/instance/${id}`],
  ['GET', (id) => `/api/instance/${id}/qr`],
  ['POST', (id) => `/api/instance/${id}/pairing-code`],
  ['POST', (id) => `/api/demo/${id}/scan`],
  ['POST', (id) => `/api/demo/${id}/${id}`],
  ['GET', () => '/api/health'],
  ['GET', (id) => `/api/webhooks/failed?limit=${id}`],
  ['POST', (id) => `/api/webhooks/${id}/retry`],
  ['PUT', (id) => `/api/instance/${id}`],
  ['PATCH', () => '/api/instances'],
  ['GET', (id) => `/api/${id}`],
  ['GET', (id) => `/${id}`],
];
const CONTENT_TYPES = ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x'];

export interface HostileRunOptions {
  base: string;
  key: string;
  count: number;
  seed: number;
  /**
   * Whether keyed creation requests are sent. Some of the hostile bodies name valid ids, so they
   * rightly create instances; a run against a live fleet (chaos) leaves them out.
   */
  creates?: boolean;
  /** Sent as X-Forwarded-For: the attacker's address, as a trusted proxy in front would report it. */
  forwardedFor?: string;
}

export interface HostileRunResult {
  statuses: Map<number, number>;
  /** 5xx answers, stack traces, error bodies not in the API's error shape, unexpected client errors. */
  failures: string[];
}

/** Sends `count` seeded hostile requests (90 % with a key, 10 % of those a wrong one) and judges each answer. */
export async function sendHostileRequests(options: HostileRunOptions): Promise<HostileRunResult> {
  const random = seededRandom(options.seed);
  const templates = options.creates === false ? TEMPLATES.filter((t) => t !== CREATE) : TEMPLATES;
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  for (let i = 0; i < options.count; i++) {
    const [method, path] = pick(random, templates);
    const url = `${options.base}${path(pick(random, HOSTILE_IDS))}${random() < 0.1 ? '?deep=1&x[y]=1&__proto__=1' : ''}`;
    const body = method === 'GET' || method === 'DELETE' ? undefined : pick(random, BODIES);
    const headers: Record<string, string> = { 'content-type': pick(random, CONTENT_TYPES) };
    if (options.forwardedFor) headers['x-forwarded-for'] = options.forwardedFor;
    if (random() < 0.9) headers['x-api-key'] = random() < 0.9 ? options.key : 'wrong';
    let status: number;
    try {
      const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(15_000) });
      status = res.status;
      const text = await res.text();
      if (status >= 400 && !/^\{"error":\{"code":"[A-Z_]+","message":/.test(text)) failures.push(`${method} ${url} -> ${status} ${text.slice(0, 80)}`);
      if (/at .+\.(ts|js):\d+/.test(text)) failures.push(`stack trace in ${method} ${url}`);
    } catch (err) {
      status = -1;
      // fetch itself refuses some URLs and headers before sending (a TypeError naming them): that
      // is the client's doing. A request that was sent and got no answer — the connection reset,
      // refused or closed — is a server that failed it, however the server failed.
      if (!refusedBeforeSending(err)) failures.push(`${method} ${url} got no answer: ${describeFailure(err)}`);
    }
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (status >= 500) failures.push(`${method} ${url} body=${String(body).slice(0, 60)} -> ${status}`);
  }
  return { statuses, failures };
}

/** undici rejects with `TypeError('fetch failed', {cause})` when the request went out and no response came back. */
function refusedBeforeSending(err: unknown): boolean {
  return err instanceof TypeError && err.message !== 'fetch failed';
}

function describeFailure(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? String(err);
}
