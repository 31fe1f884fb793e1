import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet } from '../../src/supervisor/fleet.js';
import { startTestApi, type TestApi } from '../support/api.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testConfig, waitForStatus } from '../support/fleet.js';
import { silentLogger } from '../support/logger.js';
import { tempSessionRoot } from '../support/workers.js';

let db: TestDatabase;
let fleet: Fleet;
let api: TestApi;
let sessionRoot: string;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  sessionRoot = tempSessionRoot();
  const config = testConfig(db.url, sessionRoot, { PAIRING_MAX_ATTEMPTS: '2' });
  fleet = new Fleet({ config, pool: db.pool, log: silentLogger });
  await fleet.start();
  api = await startTestApi(fleet, db.pool, config);
});
afterAll(async () => {
  await api?.close();
  await fleet?.stop();
  await db?.drop();
});

describe('the API drives the whole lifecycle on the fake WhatsApp Web', { timeout: 120_000 }, () => {
  it('creates an instance, serves its QR as JSON and PNG, links it by a simulated scan, and reports it connected', async () => {
    const created = await api.call('POST', '/api/instances', { id: 'api-qr' });
    expect(created.status).toBe(201);
    expect(created.json.instance).toMatchObject({ id: 'api-qr', enabled: true });

    const qr = await api.call('GET', '/api/instance/api-qr/qr');
    expect(qr.status).toBe(200);
    expect(qr.json.qr).toMatch(/^2@/);
    expect(qr.json.dataUrl).toMatch(/^data:image\/png;base64,/);

    const png = await fetch(`${api.base}/api/instance/api-qr/qr`, { headers: { 'x-api-key': api.key, accept: 'image/png' } });
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect([...new Uint8Array(await png.arrayBuffer()).slice(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);

    expect((await api.call('POST', '/api/demo/api-qr/scan')).status).toBe(200);
    await waitForStatus(fleet, 'api-qr', 'CONNECTED');
    const details = await api.call('GET', '/api/instance/api-qr/details');
    expect(details.json.instance).toMatchObject({ connectionStatus: 'CONNECTED', phone: { wid: expect.stringMatching(/@c\.us$/) } });
    expect(details.json.instance.worker.pid).toBeGreaterThan(0);
    expect(details.json.events.map((e: { toStatus: string }) => e.toStatus)).toContain('QR_REQUIRED');
    expect((await api.call('GET', '/api/instance/api-qr/qr')).status).toBe(409);
  });

  it('gives a pairing code, links with it, and limits the attempts per window', async () => {
    await api.call('POST', '/api/instances', { id: 'api-pair' });
    const bad = await api.call('POST', '/api/instance/api-pair/pairing-code', { phone: '+1 555' });
    expect(bad.status).toBe(400);
    const first = await api.call('POST', '/api/instance/api-pair/pairing-code', { phone: '15550009999' });
    expect(first.status).toBe(200);
    expect(first.json.code).toMatch(/^[A-Z0-9]{8}$/);
    expect(new Date(first.json.expiresAt).getTime()).toBeGreaterThan(Date.now());
    const second = await api.call('POST', '/api/instance/api-pair/pairing-code', { phone: '15550009999' });
    expect(second.status).toBe(200);
    const third = await api.call('POST', '/api/instance/api-pair/pairing-code', { phone: '15550009999' });
    expect(third.status).toBe(429);
    expect(third.json.error.code).toBe('PAIRING_LIMIT');
    // The fake checks the code: a wrong one links nothing, the last one issued links the phone.
    await fleet.simulate('api-pair', 'enterPairingCode', ['WRONG000']);
    await new Promise((r) => setTimeout(r, 1500));
    expect(fleet.handle('api-pair').live.status).toBe('QR_REQUIRED');
    await fleet.simulate('api-pair', 'enterPairingCode', [second.json.code]);
    await waitForStatus(fleet, 'api-pair', 'CONNECTED');
  });

  it('disables, enables, restarts and deletes through the API', async () => {
    await api.call('POST', '/api/instances', { id: 'api-ops' });
    await api.call('GET', '/api/instance/api-ops/qr');
    const disabled = await api.call('POST', '/api/instance/api-ops/disable');
    expect(disabled.json.instance).toMatchObject({ enabled: false, connectionStatus: 'DISCONNECTED', worker: null });
    const enabled = await api.call('POST', '/api/instance/api-ops/enable');
    expect(enabled.json.instance.enabled).toBe(true);
    await waitForStatus(fleet, 'api-ops', 'QR_REQUIRED');
    const pidBefore = (await api.call('GET', '/api/instance/api-ops/details')).json.instance.worker.pid;
    expect((await api.call('POST', '/api/instance/api-ops/restart')).status).toBe(200);
    // A restart is a new worker: the same status on the same pid would be no restart at all.
    await waitForStatus(fleet, 'api-ops', 'QR_REQUIRED');
    const after = (await api.call('GET', '/api/instance/api-ops/details')).json.instance;
    expect(after.worker.pid).toBeGreaterThan(0);
    expect(after.worker.pid).not.toBe(pidBefore);
    const profile = join(sessionRoot, 'session-api-ops');
    expect(existsSync(profile)).toBe(true);
    expect((await api.call('DELETE', '/api/instance/api-ops')).json).toEqual({ removed: 'api-ops' });
    // DELETE wipes the saved session: nothing of the linked account stays on disk.
    expect(existsSync(profile)).toBe(false);
    expect((await api.call('GET', '/api/instance/api-ops/details')).status).toBe(404);
    const health = await api.call('GET', '/api/health');
    expect(health.json).toMatchObject({ status: 'ok', database: 'up', instances: { total: 2 } });
  });
});
