import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesMatching } from '../../lib/proc-cmdline.js';
import { sleep } from '../../lib/timeout.js';
import { listEvents } from '../../src/db/events.js';
import { InstancesRepository } from '../../src/db/instances-repository.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { createTestDatabase, seedInstances, type TestDatabase } from '../support/db.js';
import { freePort } from '../support/net.js';
import { fakeInit, startFakeWorker, stopAllWorkers, tempSessionRoot } from '../support/workers.js';

const run = promisify(execFile);
const PM2 = join(PACKAGE_ROOT, 'node_modules/.bin/pm2');
const ECOSYSTEM = join(PACKAGE_ROOT, 'ecosystem.config.cjs');
const KILL_TIMEOUT_MS = 30_000;

let db: TestDatabase;
let repo: InstancesRepository;
let port: number;
const root = tempSessionRoot();
const pm2Home = mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? '/tmp', 'pm2-home-'));
let env: NodeJS.ProcessEnv;

const pm2 = (...args: string[]) => run(PM2, args, { cwd: PACKAGE_ROOT, env, timeout: 90_000 });
const ourChromium = () => processesMatching((argv) => argv.some((a) => a.startsWith(`--user-data-dir=${root}/`)));

async function appState(): Promise<{ status: string; pid: number } | null> {
  const { stdout } = await pm2('jlist');
  const app = (JSON.parse(stdout) as Array<{ name: string; pid: number; pm2_env: { status: string } }>).find((a) => a.name === 'wa-fleet');
  return app ? { status: app.pm2_env.status, pid: app.pid } : null;
}

async function waitForConnected(timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await repo.require('pm2-a')).connectionStatus !== 'CONNECTED') {
    if (Date.now() > deadline) throw new Error(`not CONNECTED: ${(await repo.require('pm2-a')).connectionStatus}`);
    await sleep(250);
  }
}

beforeAll(async () => {
  expect(existsSync(join(PACKAGE_ROOT, 'dist/src/main.js')), 'run npm run build first').toBe(true);
  db = await createTestDatabase({ migrated: true });
  repo = new InstancesRepository(db.pool);
  const w = await startFakeWorker(fakeInit(root, 'pm2-a'));
  await w.log.waitFor('qr');
  await w.handle.demo('scan', [], 3_000);
  await w.log.waitFor('ready');
  await stopAllWorkers();
  await seedInstances(db.pool, ['pm2-a']);
  port = await freePort();
  env = {
    ...process.env,
    PM2_HOME: pm2Home,
    NODE_ENV: 'test',
    API_KEY: 'pm2-test-key-0123456789abcdef',
    MYSQL_URL: db.url,
    HOST: '127.0.0.1',
    PORT: String(port),
    SESSION_STORAGE_PATH: root,
    WA_FLEET_FAKE_WEB: 'true',
    LOG_FORMAT: 'json',
  };
}, 120_000);
afterAll(async () => {
  await pm2('kill').catch(() => undefined);
  await db?.drop();
}, 60_000);

describe('under PM2', { timeout: 180_000 }, () => {
  it('is online only once ready, stops through the graceful path leaving nothing, and restarts with the same sessions', async () => {
    await pm2('start', ECOSYSTEM);
    // wait_ready: `pm2 start` returns once the app sent 'ready', which it does after the API listens.
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect((await appState())?.status).toBe('online');
    await waitForConnected();

    const logFile = join(PACKAGE_ROOT, 'data/logs/wa-fleet.out.log');
    const logBefore = existsSync(logFile) ? readFileSync(logFile, 'utf8').length : 0;
    const stopStarted = Date.now();
    await pm2('stop', 'wa-fleet');
    expect(Date.now() - stopStarted).toBeLessThan(KILL_TIMEOUT_MS);
    expect((await appState())?.status).toBe('stopped');
    expect((await repo.require('pm2-a')).statusReason).toBe('shutdown');
    expect(ourChromium()).toEqual([]);
    // This run's lines only: the log file is shared with earlier runs.
    expect(readFileSync(logFile, 'utf8').slice(logBefore)).toContain('shutdown complete');

    const seq = (await listEvents(db.pool, 'pm2-a', 1))[0]!.seq;
    await pm2('restart', 'wa-fleet');
    await waitForConnected();
    const since = (await listEvents(db.pool, 'pm2-a', 100)).filter((e) => e.seq > seq);
    expect(since.map((e) => e.toStatus)).not.toContain('QR_REQUIRED');
  });
});
