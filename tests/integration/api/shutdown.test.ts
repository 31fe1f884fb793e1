import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandInApi, type StandInApi } from '../../support/api.js';

let setup: StandInApi;
let fleet: StandInApi['fleet'];
let api: StandInApi['api'];
let shuttingDown = false;

beforeAll(async () => {
  setup = await startStandInApi({ shuttingDown: () => shuttingDown });
  ({ fleet, api } = setup);
});
afterAll(() => setup?.close());

describe('during shutdown', () => {
  it('refuses writes with 503 and keeps answering reads', async () => {
    shuttingDown = true;
    const write = await api.call('POST', '/api/instances', { id: 'late' });
    expect(write.status).toBe(503);
    expect(write.json.error.code).toBe('SHUTTING_DOWN');
    expect(write.res.headers.get('retry-after')).toBe('10');
    expect((await api.call('GET', '/api/instances')).status).toBe(200);
    expect(fleet.list().map((h) => h.id)).not.toContain('late');
  });
});
