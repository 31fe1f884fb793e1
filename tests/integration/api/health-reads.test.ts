import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../../lib/timeout.js';
import { HEALTH_PING_REUSE_MS } from '../../../src/api/routes/health.js';
import type { Config } from '../../../src/config/index.js';
import { Supervisor } from '../../../src/supervisor/supervisor.js';
import { standInLauncher, testConfig } from '../../support/fleet.js';
import { silentLogger } from '../../support/logger.js';
import { privateMysql } from '../../support/private-mysql.js';
import { waitFor } from '../../support/webhook-receiver.js';
import { tempSessionRoot } from '../../support/workers.js';

// A private MariaDB this test stops and starts, never the machine's shared one.
const db = privateMysql('health-mysql');

let config: Config;
let supervisor: Supervisor | undefined;
let base: string;
/** `SELECT 1` queries the supervisor's pool sent: the health route's pings (nothing else sends it). */
let pings = 0;

beforeAll(async () => {
  const url = await db.start();
  config = testConfig(url, tempSessionRoot(), { HOST: '127.0.0.1', PORT: '0', MIGRATE_ON_START: 'true', HEALTH_CHECK_START_DELAY_MS: '600000' });
  supervisor = new Supervisor({ config, log: silentLogger, launch: standInLauncher });
  // Counted on the way to the real server, which answers every one.
  const pool = supervisor.pool as unknown as { query: (sql: unknown, ...rest: unknown[]) => unknown };
  const query = pool.query.bind(pool);
  pool.query = (sql, ...rest) => {
    if (sql === 'SELECT 1') pings++;
    return query(sql, ...rest);
  };
  await supervisor.start();
  base = `http://127.0.0.1:${supervisor.address!.port}`;
}, 150_000);
afterAll(async () => {
  await supervisor?.stop();
  await db.stop();
}, 120_000);

const health = async () => {
  const res = await fetch(`${base}/api/health`, { headers: { 'x-api-key': config.apiKey! } });
  expect(res.status).toBe(200);
  return (await res.json()) as { status: string; database: string };
};

describe('GET /api/health and the database', { timeout: 180_000 }, () => {
  it('pings a database that answers at most once per reuse window, and again once the window is past', async () => {
    const before = pings;
    const startedAt = Date.now();
    const answers = await Promise.all(Array.from({ length: 40 }, () => health()));
    for (let i = 0; i < 40; i++) answers.push(await health());
    const elapsed = Date.now() - startedAt;
    expect(answers.every((a) => a.database === 'up' && a.status === 'ok')).toBe(true);
    expect(pings - before).toBeGreaterThanOrEqual(1);
    expect(pings - before).toBeLessThanOrEqual(Math.ceil(elapsed / HEALTH_PING_REUSE_MS) + 1);
    await sleep(HEALTH_PING_REUSE_MS + 100);
    const after = pings;
    expect((await health()).database).toBe('up');
    expect(pings).toBe(after + 1);
  });

  it('says the database is down within the reuse window of its stop, and up at the first read once it is back', async () => {
    expect((await health()).database).toBe('up');
    await db.stop();
    const stoppedAt = Date.now();
    await waitFor(async () => (await health()).database === 'down', 'health to say the database is down', 30_000);
    const down = await health();
    expect(down).toMatchObject({ status: 'degraded', database: 'down' });
    // Nothing wrote meanwhile, so the journal did not notice: the ping did, within its window and the stop's own time.
    expect(supervisor!.fleet.journal.databaseUp).toBe(true);
    expect(Date.now() - stoppedAt).toBeLessThan(HEALTH_PING_REUSE_MS + 15_000);
    // Health is read all through the restart, so a "down" answer is never more than a moment old
    // when the database comes back: were it served again, the read after the start would say so.
    let polling = true;
    const poll = (async () => {
      while (polling) {
        await health();
        await sleep(100);
      }
    })();
    await db.start();
    polling = false;
    await poll;
    expect(await health()).toMatchObject({ status: 'ok', database: 'up' });
  });
});
