import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observations } from '../../../src/checks/observations.js';
import { Recoverer } from '../../../src/checks/recoverer.js';
import { checkSettings } from '../../../src/checks/settings.js';
import type { Config } from '../../../src/config/index.js';
import type { FleetEventArgs } from '../../../src/supervisor/event-bus.js';
import { Supervisor } from '../../../src/supervisor/supervisor.js';
import { createLogger } from '../../../src/logger/index.js';
import { standInLauncher, testConfig, waitForStatus } from '../../support/fleet.js';
import { silentLogger } from '../../support/logger.js';
import { privateMysql } from '../../support/private-mysql.js';
import { startReceiver, waitFor, type Receiver } from '../../support/webhook-receiver.js';
import { tempSessionRoot } from '../../support/workers.js';

// A private MariaDB this test stops and starts, from the same script users run.
const db = privateMysql('journal-mysql');
const startDb = db.start;
const stopDb = db.stop;

let url: string;
let receiver: Receiver;
let config: Config;
let supervisor: Supervisor | undefined;
let base: string;

beforeAll(async () => {
  url = await startDb();
  receiver = await startReceiver();
  config = testConfig(url, tempSessionRoot(), {
    NOTIFICATION_WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET: 'journal-outage-secret-0123',
    HOST: '127.0.0.1',
    PORT: '0',
    MIGRATE_ON_START: 'true',
    // Two stand-ins (~40 MB each) are a fleet-wide warning, far from critical: the memory tick announces a fleet alert and restarts nothing.
    FLEET_MEMORY_CAP_MB: '4096',
    MEMORY_WARN_PERCENT: '1',
    MEMORY_CRITICAL_PERCENT: '100',
    RECOVERY_TIMEOUT_MS: '10000',
    // The loops stay quiet: every change in this test is one it makes.
    HEALTH_CHECK_START_DELAY_MS: '600000',
  });
  supervisor = new Supervisor({ config, log: process.env.DEBUG_JOURNAL ? createLogger({ level: 'debug', format: 'pretty', secrets: [] }) : silentLogger, launch: standInLauncher });
  await supervisor.start();
  base = `http://127.0.0.1:${supervisor.address!.port}`;
}, 120_000);
afterAll(async () => {
  await supervisor?.stop();
  await receiver?.close();
  await stopDb();
}, 90_000);

const get = async (path: string) => {
  const res = await fetch(`${base}${path}`, { headers: { 'x-api-key': config.apiKey! } });
  return { status: res.status, json: (await res.json()) as any };
};

type Body = { id: string; event: string; instanceId: string | null; data: { at: string } };

describe('the journal through a database outage', { timeout: 180_000 }, () => {
  it('keeps every change made while MySQL is stopped, and each reaches the receiver once, in order per instance', async () => {
    const s = supervisor!;
    const fleet = s.fleet;
    await fleet.create('qr-a');
    await fleet.create('linked-b');
    await waitForStatus(fleet, 'qr-a', 'QR_REQUIRED');
    await waitForStatus(fleet, 'linked-b', 'QR_REQUIRED');
    await fleet.simulate('linked-b', 'scan');
    await waitForStatus(fleet, 'linked-b', 'CONNECTED');

    // Settled: everything so far is written and announced (the judge's verdict on CONNECTED included).
    for (let quiet = 0; quiet < 3; quiet = fleet.journal.pending === 0 ? quiet + 1 : 0) await new Promise((r) => setTimeout(r, 200));
    const seen: Array<{ name: string; instanceId: string | null; at: string }> = [];
    fleet.events.onAny((...[name, payload]: FleetEventArgs) => seen.push({ name, instanceId: payload.instanceId, at: payload.at.toISOString() }));
    await stopDb();

    // A QR rotation.
    await fleet.simulate('qr-a', 'rotateQr');
    await waitFor(() => seen.some((e) => e.name === 'qrcode.updated' && e.instanceId === 'qr-a'), 'a QR rotation');
    // A health verdict.
    await fleet.handle('linked-b').setHealth('degraded', 'test_verdict');
    // A recovery step (soft restart: the unlinked page shows a QR again).
    const recoverer = new Recoverer({ fleet, observations: new Observations(), settings: checkSettings(config), log: silentLogger });
    const steps = await recoverer.ensureHealthy('qr-a', { health: 'stuck', reason: 'test_stuck' }, new AbortController().signal);
    expect(steps.map((r) => [r.step, r.outcome])).toEqual([['soft', 'succeeded']]);
    // A fleet-wide memory alert.
    await s.checks.runNow('memorySample');
    await s.checks.runNow('memory');
    await waitFor(() => seen.some((e) => e.name === 'memory.alert' && e.instanceId === null), 'a fleet memory alert');
    // Status changes: the linked instance's page crashes and it comes back showing a QR.
    await fleet.simulate('linked-b', 'crash');
    await waitForStatus(fleet, 'linked-b', 'QR_REQUIRED');

    // Reads answer from the live state, marked as such (must-show 2).
    const list = await get('/api/instances');
    expect(list.status).toBe(200);
    expect(list.json.database).toBe('down');
    expect(list.json.instances.map((i: any) => [i.id, i.connectionStatus, i.stale.includes('enabled')])).toEqual([
      ['linked-b', 'QR_REQUIRED', true],
      ['qr-a', 'QR_REQUIRED', true],
    ]);
    const details = await get('/api/instance/linked-b/details');
    expect(details.status).toBe(200);
    expect(details.json).toMatchObject({ database: 'down', instance: { id: 'linked-b', connectionStatus: 'QR_REQUIRED', health: 'degraded' } });
    const health = await get('/api/health');
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ database: 'down', instances: { total: 2, byStatus: { QR_REQUIRED: 2 } } });
    expect(health.json.journalPending).toBeGreaterThan(0);
    const memory = await get('/api/memory/report');
    expect(memory.status).toBe(200);
    expect(memory.json.database).toBe('down');

    const during = seen.length;
    const kinds = new Set(seen.map((e) => e.name));
    for (const kind of ['qrcode.updated', 'instance.health', 'recovery.step', 'memory.alert', 'connection.update']) expect(kinds).toContain(kind);
    expect(seen.filter((e) => e.name === 'connection.update').length).toBeGreaterThanOrEqual(2);
    // Nothing of it reached the receiver yet: it is all waiting in the journal.
    const before = new Set(receiver.accepted().map((d) => d.body));

    expect(await startDb()).toBe(url);
    const fresh = () => receiver.accepted().filter((d) => !before.has(d.body)).map((d) => JSON.parse(d.body) as Body);
    await waitFor(() => fresh().length >= during, `${during} deliveries after the outage`, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; seen ${JSON.stringify(seen)}; delivered ${JSON.stringify(fresh().map((b) => [b.instanceId, b.event, b.data.at]))}`);
    });
    // Settle: a duplicate would arrive about now.
    await new Promise((r) => setTimeout(r, 1_500));

    const delivered = fresh();
    const key = (e: { name: string; instanceId: string | null; at: string }) => `${e.instanceId ?? '-'} ${e.name} ${e.at}`;
    const byInstance = (list: string[], id: string | null) => list.filter((k) => k.startsWith(`${id ?? '-'} `));
    const expected = seen.slice(0, during).map(key);
    const got = delivered.map((b) => key({ name: b.event, instanceId: b.instanceId, at: b.data.at }));
    // Exactly once each…
    expect([...got].sort()).toEqual([...expected].sort());
    for (const count of receiver.acceptedCounts().values()) expect(count).toBe(1);
    // …and per instance in the order they happened.
    for (const id of ['qr-a', 'linked-b', null]) expect(byInstance(got, id)).toEqual(byInstance(expected, id));
    expect(s.fleet.journal.pending).toBe(0);
    expect((await get('/api/instances')).json.database).toBe('up');
  });
});
