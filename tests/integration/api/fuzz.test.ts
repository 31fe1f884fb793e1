import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandInApi, type StandInApi } from '../../support/api.js';
import { tempSessionRoot } from '../../support/workers.js';

const REQUESTS = 1_200;

/** mulberry32: a seeded generator, so a failure replays exactly. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
const TEMPLATES: Array<[string, (id: string) => string]> = [
  ['POST', () => '/api/instances'],
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

let setup: StandInApi;
let api: StandInApi['api'];
let sessionRoot: string;
const sentinel = () => join(dirname(sessionRoot), 'sentinel.txt');

function listing(dir: string): string[] {
  return readdirSync(dir).map((name) => `${name}:${statSync(join(dir, name)).mtimeMs}`).sort();
}

beforeAll(async () => {
  sessionRoot = join(tempSessionRoot(), 'sessions');
  setup = await startStandInApi({ sessionRoot, overrides: { API_AUTH_FAILURES_PER_MINUTE: '100000', API_BODY_LIMIT_KB: '64' } });
  api = setup.api;
  await setup.fleet.create('fuzz-ok');
  writeFileSync(sentinel(), 'must survive');
});
afterAll(() => setup?.close());

describe('hostile and malformed requests', { timeout: 240_000 }, () => {
  it(`never get a 5xx, touch no file outside the session storage, and leave the API answering (${REQUESTS} requests)`, async () => {
    const random = rng(20261124);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    const outsideBefore = listing(dirname(sessionRoot));
    const failures: string[] = [];
    const statuses = new Map<number, number>();

    for (let i = 0; i < REQUESTS; i++) {
      const [method, path] = pick(TEMPLATES);
      const url = `${api.base}${path(pick(HOSTILE_IDS))}${random() < 0.1 ? '?deep=1&x[y]=1&__proto__=1' : ''}`;
      const body = method === 'GET' || method === 'DELETE' ? undefined : pick(BODIES);
      const headers: Record<string, string> = { 'content-type': pick(CONTENT_TYPES) };
      if (random() < 0.9) headers['x-api-key'] = random() < 0.9 ? api.key : 'wrong';
      let status: number;
      try {
        const res = await fetch(url, { method, headers, body });
        status = res.status;
        const text = await res.text();
        if (status >= 400 && !/^\{"error":\{"code":"[A-Z_]+","message":/.test(text)) failures.push(`${method} ${url} -> ${status} ${text.slice(0, 80)}`);
        if (/at .+\.(ts|js):\d+/.test(text)) failures.push(`stack trace in ${method} ${url}`);
      } catch (err) {
        // fetch itself refuses some URLs (invalid percent-encoding it normalises away is fine); count as client-side
        status = -1;
        if (!(err instanceof TypeError)) failures.push(`${method} ${url} threw ${String(err)}`);
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status >= 500) failures.push(`${method} ${url} body=${String(body).slice(0, 60)} -> ${status}`);
    }

    expect(failures).toEqual([]);
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
    expect(listing(dirname(sessionRoot)).filter((e) => !e.startsWith('sessions:'))).toEqual(outsideBefore.filter((e) => !e.startsWith('sessions:')));
    const health = await api.call('GET', '/api/health');
    expect(health.status).toBe(200);
    expect((statuses.get(400) ?? 0) + (statuses.get(404) ?? 0)).toBeGreaterThan(REQUESTS / 3);
  });
});
