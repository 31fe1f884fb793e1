import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandInApi, type StandInApi } from '../../support/api.js';
import { waitFor } from '../../support/webhook-receiver.js';

let setup: StandInApi;
let api: StandInApi['api'];

beforeAll(async () => {
  setup = await startStandInApi();
  ({ api } = setup);
});
afterAll(() => setup?.close());

const listed = async (id: string) => {
  const { status, json } = await api.call('GET', '/api/instances');
  expect(status).toBe(200);
  return (json.instances as Array<{ id: string; enabled: boolean; webhookUrl: string | null }>).find((i) => i.id === id);
};

describe('GET /api/instances between writes', () => {
  it('shows a change the journal recorded at once, though the rows were read a moment before', async () => {
    expect((await api.call('POST', '/api/instances', { id: 'lr-1', enabled: false })).status).toBe(201);
    for (const enabled of [true, false, true]) {
      expect((await listed('lr-1'))?.enabled).toBe(!enabled);
      expect((await api.call('POST', `/api/instance/lr-1/${enabled ? 'enable' : 'disable'}`)).status).toBe(200);
      expect((await listed('lr-1'))?.enabled).toBe(enabled);
    }
  });

  it('shows a row changed outside the journal (an operator’s SQL) within a second', async () => {
    expect((await api.call('POST', '/api/instances', { id: 'lr-2', enabled: false })).status).toBe(201);
    expect((await listed('lr-2'))?.webhookUrl).toBeNull();
    await setup.db.pool.query("UPDATE instances SET webhook_url = 'https://hooks.example.test/lr-2' WHERE id = 'lr-2'");
    const changedAt = Date.now();
    await waitFor(async () => (await listed('lr-2'))?.webhookUrl === 'https://hooks.example.test/lr-2', 'the list to show the new URL', 1_000);
    expect(Date.now() - changedAt).toBeLessThan(1_000);
  });
});
