import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForStatus } from '../../support/fleet.js';
import { startStandInApi, type StandInApi } from '../../support/api.js';

let s: StandInApi;
beforeAll(async () => {
  s = await startStandInApi({ overrides: { MAX_INSTANCES: '3' } });
});
afterAll(async () => {
  await s?.close();
});

describe('what a QR request and a create may start', () => {
  it('a QR request never starts a disabled instance: 409 INSTANCE_DISABLED, and no worker', async () => {
    expect((await s.api.call('POST', '/api/instances', { id: 'qr-off', enabled: false })).status).toBe(201);
    const qr = await s.api.call('GET', '/api/instance/qr-off/qr');
    expect(qr.status).toBe(409);
    expect(qr.json.error.code).toBe('INSTANCE_DISABLED');
    expect(s.fleet.handle('qr-off').hasWorker).toBe(false);
  });

  it('a QR request never lifts a LOGOUT: 409 INSTANCE_BLOCKED naming it, until a restart', async () => {
    await s.api.call('POST', '/api/instances', { id: 'qr-gone' });
    await waitForStatus(s.fleet, 'qr-gone', 'QR_REQUIRED');
    await s.fleet.simulate('qr-gone', 'scan');
    await waitForStatus(s.fleet, 'qr-gone', 'CONNECTED');
    await s.fleet.simulate('qr-gone', 'logout');
    await waitForStatus(s.fleet, 'qr-gone', 'DISCONNECTED');
    const qr = await s.api.call('GET', '/api/instance/qr-gone/qr');
    expect(qr.status).toBe(409);
    expect(qr.json.error).toMatchObject({ code: 'INSTANCE_BLOCKED' });
    expect(qr.json.error.message).toContain('LOGOUT');
    expect(s.fleet.handle('qr-gone').hasWorker).toBe(false);
    // The operator's restart is the decision to link again: then the QR is served.
    expect((await s.api.call('POST', '/api/instance/qr-gone/restart')).status).toBe(200);
    expect((await s.api.call('GET', '/api/instance/qr-gone/qr')).status).toBe(200);
  });

  it('refuses a create beyond MAX_INSTANCES with 409 INSTANCE_LIMIT', async () => {
    expect((await s.api.call('POST', '/api/instances', { id: 'third' })).status).toBe(201);
    const fourth = await s.api.call('POST', '/api/instances', { id: 'fourth' });
    expect(fourth.status).toBe(409);
    expect(fourth.json.error).toEqual({ code: 'INSTANCE_LIMIT', message: 'at most 3 instances (MAX_INSTANCES)' });
    expect(s.fleet.list().map((h) => h.id)).not.toContain('fourth');
  });
});
