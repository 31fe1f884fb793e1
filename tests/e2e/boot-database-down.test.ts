import { afterAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/timeout.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { startChild, type RunningChild } from '../support/child.js';
import { freePort, waitForHttp } from '../support/net.js';
import { privateMysql } from '../support/private-mysql.js';
import { tempSessionRoot } from '../support/workers.js';

const BUILT = `${PACKAGE_ROOT}/dist/src/main.js`;
const db = privateMysql('boot-down-mysql');
let supervisor: RunningChild | undefined;

afterAll(async () => {
  if (supervisor && supervisor.proc.exitCode === null) {
    supervisor.proc.kill('SIGTERM');
    await Promise.race([supervisor.exited, sleep(20_000)]);
  }
  supervisor?.kill();
  await db.stop();
}, 90_000);

describe('boot with the database down', { timeout: 180_000 }, () => {
  it('waits for the database instead of exiting, then migrates and serves once it answers', async () => {
    const url = await db.start();
    await db.stop();
    const port = await freePort();
    const key = 'boot-down-key-0123456789abcdef';
    supervisor = startChild(process.execPath, [BUILT], {
      cwd: PACKAGE_ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'test',
        API_KEY: key,
        MYSQL_URL: url,
        HOST: '127.0.0.1',
        PORT: String(port),
        SESSION_STORAGE_PATH: tempSessionRoot(),
        WA_FLEET_FAKE_WEB: 'true',
        LOG_FORMAT: 'json',
        DB_RETRY_INTERVAL_MS: '500',
      },
    });
    // Several retry intervals with nothing to connect to: it says so and stays up.
    const deadline = Date.now() + 30_000;
    while (!supervisor.output().includes('database unreachable, retrying') && Date.now() < deadline) await sleep(200);
    expect(supervisor.output()).toContain('database unreachable, retrying in 500 ms');
    await sleep(3_000);
    expect(supervisor.proc.exitCode).toBeNull();

    expect(await db.start()).toBe(url);
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, 60_000, 200);
    const res = await fetch(`http://127.0.0.1:${port}/api/health`, { headers: { 'x-api-key': key } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ database: 'up' });
    const created = await fetch(`http://127.0.0.1:${port}/api/instances`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'after-wait', enabled: false }) });
    expect(created.status).toBe(201);
  });
});
