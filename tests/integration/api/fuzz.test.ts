import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandInApi, type StandInApi } from '../../support/api.js';
import { sendHostileRequests } from '../../support/hostile-requests.js';
import { tempSessionRoot } from '../../support/workers.js';

const REQUESTS = 1_200;

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
    const outsideBefore = listing(dirname(sessionRoot));
    const { statuses, failures } = await sendHostileRequests({ base: api.base, key: api.key, count: REQUESTS, seed: 20261124 });

    expect(failures).toEqual([]);
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
    expect(listing(dirname(sessionRoot)).filter((e) => !e.startsWith('sessions:'))).toEqual(outsideBefore.filter((e) => !e.startsWith('sessions:')));
    const health = await api.call('GET', '/api/health');
    expect(health.status).toBe(200);
    expect((statuses.get(400) ?? 0) + (statuses.get(404) ?? 0)).toBeGreaterThan(REQUESTS / 3);
  });
});
