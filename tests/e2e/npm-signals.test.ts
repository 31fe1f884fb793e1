import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/timeout.js';
import { descendantsOf } from '../../lib/proc-memory.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { startChild, type RunningChild } from '../support/child.js';
import { createTestDatabase, serverUrl, type TestDatabase } from '../support/db.js';
import { freePort, waitForHttp } from '../support/net.js';
import { copyTree } from '../support/tree-copy.js';
import { isAlive } from '../support/processes.js';
import { tempSessionRoot } from '../support/workers.js';

/*
 * What systemd, Docker and most process managers do: SIGTERM to the pid they started — here
 * npm's — and nothing to the rest of its group. The supervisor must hear it, shut down
 * gracefully while npm waits, and leave nothing behind.
 */

const KEY = 'npm-signals-key-0123456789abcdef';
let db: TestDatabase;
const children: RunningChild[] = [];
const tree = copyTree('npm-demo');
const DEMO_DB = `wa_fleet_demo_test_${process.pid}`;

beforeAll(async () => {
  db = await createTestDatabase({ migrated: true });
});
afterAll(async () => {
  for (const c of children) c.kill();
  await db?.pool.query(`DROP DATABASE IF EXISTS \`${DEMO_DB}\``).catch(() => undefined);
  await db?.drop();
  tree.remove();
}, 60_000);

async function api(base: string, method: string, path: string, key: string): Promise<any> {
  const res = await fetch(`${base}${path}`, { method, headers: { 'x-api-key': key } });
  return res.json();
}

async function waitConnected(base: string, key: string, id: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const details = await api(base, 'GET', `/api/instance/${id}/details`, key);
    if (details.instance?.connectionStatus === 'CONNECTED') return;
    if (Date.now() > deadline) throw new Error(`${id} not CONNECTED: ${JSON.stringify(details.instance)}`);
    await sleep(250);
  }
}

/** SIGTERM to npm's pid only; then npm must exit 0 after the supervisor's graceful shutdown, and every process under it be gone. */
async function terminateNpm(run: RunningChild): Promise<void> {
  const npmPid = run.proc.pid!;
  const tree = descendantsOf(npmPid);
  expect(tree.length).toBeGreaterThan(2); // supervisor, worker, Chromium …
  process.kill(npmPid, 'SIGTERM');
  expect(await run.exited).toBe(0);
  expect(run.output()).toContain('shutdown complete');
  const deadline = Date.now() + 5_000;
  while (tree.some(isAlive) && Date.now() < deadline) await sleep(100);
  expect(tree.filter(isAlive), run.output().slice(-2000)).toEqual([]);
}

describe('a SIGTERM to npm’s pid', { timeout: 300_000 }, () => {
  it('npm start: reaches the supervisor, which shuts down gracefully with a linked instance, and nothing is left', async () => {
    expect((JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start).toMatch(/^exec /);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const run = startChild('npm', ['start', '--silent'], {
      cwd: PACKAGE_ROOT,
      env: {
        ...process.env,
        MYSQL_URL: db.url,
        API_KEY: KEY,
        PORT: String(port),
        HOST: '127.0.0.1',
        WA_FLEET_FAKE_WEB: 'true',
        NODE_ENV: 'test',
        SESSION_STORAGE_PATH: tempSessionRoot(),
        LOG_FORMAT: 'json',
      },
    });
    children.push(run);
    await waitForHttp(`${base}/healthz`, 30_000, 200);
    await fetch(`${base}/api/instances`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'npm-linked' }) });
    const deadline = Date.now() + 60_000;
    while ((await api(base, 'GET', '/api/instance/npm-linked/details', KEY)).instance?.connectionStatus !== 'QR_REQUIRED' && Date.now() < deadline) await sleep(250);
    await api(base, 'POST', '/api/demo/npm-linked/scan', KEY);
    await waitConnected(base, KEY, 'npm-linked');
    await terminateNpm(run);
    expect(run.output()).toMatch(/CONNECTED → DISCONNECTED \(shutdown\)|"message":"CONNECTED → DISCONNECTED \(shutdown\)"/);
  });

  it('npm run demo: the same', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const dataDir = join(tree.dir, 'demo-data');
    const run = startChild('npm', ['run', 'demo', '--silent'], {
      cwd: tree.dir,
      env: { ...process.env, MYSQL_URL: serverUrl(), DEMO_PORT: String(port), DEMO_DATA_DIR: dataDir, DEMO_DATABASE: DEMO_DB, NODE_ENV: '' },
    });
    children.push(run);
    const deadline = Date.now() + 240_000;
    while (!run.output().includes('DEMO MODE')) {
      if (Date.now() > deadline || run.proc.exitCode !== null) throw new Error(`the demo did not come up:\n${run.output().slice(-3000)}`);
      await sleep(250);
    }
    const key = readFileSync(join(dataDir, 'api-key'), 'utf8').trim();
    while ((await api(base, 'GET', '/api/instance/demo-1/details', key)).instance?.connectionStatus !== 'QR_REQUIRED') await sleep(250);
    await api(base, 'POST', '/api/demo/demo-1/scan', key);
    await waitConnected(base, key, 'demo-1');
    await terminateNpm(run);
  });
});
