import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The package's entry, as an embedding application imports it (README "Embedding").
import { Supervisor, createLogger, loadConfig, secretValues, type ConnectionUpdateEvent } from '../../src/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { standInLauncher, waitForStatus } from '../support/fleet.js';
import { startReceiver, waitFor, type Receiver } from '../support/webhook-receiver.js';
import { tempSessionRoot } from '../support/workers.js';

let db: TestDatabase;
let receiver: Receiver;
let supervisor: Supervisor | undefined;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: false });
  receiver = await startReceiver();
});
afterAll(async () => {
  await supervisor?.stop();
  await receiver?.close();
  await db?.drop();
});

describe('embedding wa-fleet as the README shows', () => {
  it('migrates and starts, delivers a webhook, and recovers a crashed worker', async () => {
    // The README's example, with a test environment and light stand-in workers.
    const config = loadConfig({
      API_KEY: 'embedded-key-0123456789',
      MYSQL_URL: db.url,
      SESSION_STORAGE_PATH: tempSessionRoot(),
      WA_FLEET_FAKE_WEB: 'true',
      NOTIFICATION_WEBHOOK_URL: receiver.url,
      RECONNECT_BASE_DELAY_MS: '100',
      RECONNECT_JITTER_MS: '50',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'error',
    });
    const log = createLogger({ level: 'error', format: 'json', secrets: secretValues(config) });
    supervisor = new Supervisor({ config, log, launch: standInLauncher });
    const updates: ConnectionUpdateEvent[] = [];
    const off = supervisor.fleet.events.on('connection.update', (e) => void updates.push(e));
    await supervisor.start();

    const { fleet } = supervisor;
    await fleet.create('embedded');
    await waitForStatus(fleet, 'embedded', 'QR_REQUIRED');
    await waitFor(() => receiver.accepted().some((d) => JSON.parse(d.body).event === 'qrcode.updated'), 'a qrcode.updated webhook');

    const firstPid = fleet.handle('embedded').live.workerPid!;
    process.kill(firstPid, 'SIGKILL');
    await waitFor(() => updates.some((e) => e.instanceId === 'embedded' && e.reason === 'worker_exit'), 'the crash seen');
    await waitFor(() => {
      const live = fleet.handle('embedded').live;
      return live.status === 'QR_REQUIRED' && live.workerPid !== null && live.workerPid !== firstPid;
    }, 'a new worker showing a QR');
    await waitFor(() => receiver.accepted().filter((d) => JSON.parse(d.body).event === 'qrcode.updated').length >= 2, 'the new QR delivered');
    expect(fleet.handle('embedded').live.workerPid).not.toBe(firstPid);
    off();
  });
});
