import createClient, { type Client } from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/timeout.js';
import { Fleet } from '../../src/supervisor/fleet.js';
import { startTestApi, type TestApi } from '../support/api.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testConfig } from '../support/fleet.js';
import { silentLogger } from '../support/logger.js';
import type { components, paths } from '../support/openapi-types.js';
import { tempSessionRoot } from '../support/workers.js';

/*
 * A client typed by the OpenAPI document (tests/support/openapi-types.ts, generated from it and
 * checked against it by tests/integration/api/openapi-lint.test.ts) drives the lifecycle on a real
 * worker: whatsapp-web.js in Chromium on the fake WhatsApp Web (demo mode). `npm run typecheck`
 * covers this file, so a path, parameter or body the document does not have is a compile error.
 */

// A real worker starts Chromium and loads the fake WhatsApp Web: seconds on a loaded 2-core machine.
const WORKER_MS = 60_000;

let db: TestDatabase | undefined;
let fleet: Fleet | undefined;
let api: TestApi | undefined;
/** JSON answers (the QR route also offers image/png). */
let client: Client<paths, 'application/json'>;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
  const config = testConfig(db.url, tempSessionRoot());
  fleet = new Fleet({ config, pool: db.pool, log: silentLogger });
  await fleet.start();
  api = await startTestApi(fleet, db.pool, config);
  client = createClient<paths, 'application/json'>({ baseUrl: api.base, headers: { 'x-api-key': api.key } });
});

afterAll(async () => {
  // Each step runs even when an earlier one failed: no worker or Chromium may outlive the file.
  const steps = [() => api?.close(), () => fleet?.stop(), () => db?.drop()];
  const failures: unknown[] = [];
  for (const step of steps) await Promise.resolve().then(step).catch((error: unknown) => failures.push(error));
  if (failures.length > 0) throw failures[0];
});

type Instance = components['schemas']['Instance'];

/** Polls the details through the typed client until the instance is `status`. */
async function waitForStatus(id: string, status: NonNullable<Instance['connectionStatus']>): Promise<components['schemas']['InstanceDetails']> {
  const deadline = Date.now() + WORKER_MS;
  for (;;) {
    const { data, error } = await client.GET('/api/instance/{id}/details', { params: { path: { id } } });
    if (error) throw new Error(`details of ${id}: ${error.error.code} ${error.error.message}`);
    if (data.instance.connectionStatus === status) return data;
    if (Date.now() > deadline) throw new Error(`${id} is ${data.instance.connectionStatus} (${data.instance.statusReason}), not ${status}`);
    await sleep(250);
  }
}

describe('a client generated from the OpenAPI document', { timeout: 3 * WORKER_MS }, () => {
  it('creates an instance, reads its QR, links it by a simulated scan and reads it connected', async () => {
    const created = await client.POST('/api/instances', { body: { id: 'typed-1' } });
    expect(created.response.status).toBe(201);
    expect(created.data?.instance).toMatchObject({ id: 'typed-1', enabled: true });

    const qr = await client.GET('/api/instance/{id}/qr', { params: { path: { id: 'typed-1' } } });
    expect(qr.error, JSON.stringify(qr.error)).toBeUndefined();
    expect(qr.data?.qr).toMatch(/^2@/);
    expect(qr.data?.dataUrl).toMatch(/^data:image\/png;base64,/);
    expect(new Date(qr.data!.at).getTime()).toBeLessThanOrEqual(Date.now());

    const scan = await client.POST('/api/demo/{id}/{action}', { params: { path: { id: 'typed-1', action: 'scan' } } });
    expect(scan.data).toEqual({ id: 'typed-1', action: 'scan', done: true });

    const details = await waitForStatus('typed-1', 'CONNECTED');
    expect(details.database).toBe('up');
    expect(details.instance.phone.wid).toMatch(/@c\.us$/);
    expect(details.instance.worker?.pid).toBeGreaterThan(0);
    expect(details.events.map((e) => e.toStatus)).toContain('QR_REQUIRED');

    const again = await client.GET('/api/instance/{id}/qr', { params: { path: { id: 'typed-1' } } });
    expect(again.response.status).toBe(409);
    expect(again.error?.error.code).toBe('ALREADY_CONNECTED');
  });

  it('gets the documented errors, typed', async () => {
    const missing = await client.GET('/api/instance/{id}/details', { params: { path: { id: 'nobody' } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error?.error.code).toBe('INSTANCE_NOT_FOUND');

    const exists = await client.POST('/api/instances', { body: { id: 'typed-1' } });
    expect(exists.response.status).toBe(409);
    expect(exists.error?.error.code).toBe('INSTANCE_EXISTS');

    // What the document does not allow does not compile; the server refuses it the same way.
    // @ts-expect-error a field of the wrong type
    const wrongType = await client.POST('/api/instances', { body: { id: 'typed-2', enabled: 'yes' } });
    expect(wrongType.response.status).toBe(400);
    expect(wrongType.error?.error.code).toBe('VALIDATION_FAILED');
    // @ts-expect-error an action the demo does not have
    const unknownAction = await client.POST('/api/demo/{id}/{action}', { params: { path: { id: 'typed-1', action: 'dance' } } });
    expect(unknownAction.response.status).toBe(400);
    // @ts-expect-error a path the document does not have
    const noRoute = await client.GET('/api/instance/{id}/detail', { params: { path: { id: 'typed-1' } } });
    expect(noRoute.response.status).toBe(404);
  });

  it('lists the linked instance and reports the fleet', async () => {
    const list = await client.GET('/api/instances');
    expect(list.data?.database).toBe('up');
    expect(list.data?.instances.map((i) => [i.id, i.connectionStatus])).toEqual([['typed-1', 'CONNECTED']]);
    const health = await client.GET('/api/health');
    expect(health.data).toMatchObject({ status: 'ok', database: 'up', instances: { total: 1, byStatus: { CONNECTED: 1 } } });
    const memory = await client.GET('/api/memory/report');
    expect(memory.data?.database).toBe('up');
    const removed = await client.DELETE('/api/instance/{id}', { params: { path: { id: 'typed-1' } } });
    expect(removed.data).toEqual({ removed: 'typed-1' });
  });
});
