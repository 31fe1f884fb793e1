import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/timeout.js';
import { listEvents } from '../../src/db/events.js';
import { migrate } from '../../src/db/migrations.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { MIGRATIONS_DIR } from '../../src/paths.js';
import { Fleet } from '../../src/supervisor/fleet.js';
import { createLinked, nextUpdate, testConfig } from '../support/fleet.js';
import { silentLogger } from '../support/logger.js';
import { privateMysql } from '../support/private-mysql.js';
import { tempSessionRoot } from '../support/workers.js';

// A private MariaDB this test stops and starts, from the same script users run.
const db = privateMysql('outage-mysql');
const startDb = db.start;
const stopDb = db.stop;

const OUTAGE_MS = 30_000;
let url: string;
let pool: Pool;
let fleet: Fleet | undefined;

beforeAll(async () => {
  url = await startDb();
  await migrate(url, MIGRATIONS_DIR, silentLogger);
  pool = createPool({ url, size: 3 });
}, 120_000);
afterAll(async () => {
  await fleet?.stop();
  await pool?.end().catch(() => undefined);
  await stopDb();
}, 90_000);

describe('database outage', { timeout: 180_000 }, () => {
  it('keeps sessions running while MySQL is down for 30 s, and the rows are right once it is back', async () => {
    fleet = new Fleet({ config: testConfig(url, tempSessionRoot()), pool, log: silentLogger });
    await fleet.start();
    await createLinked(fleet, 'outage');
    const workerBefore = fleet.handle('outage').live.workerPid;

    await stopDb();
    const downSince = Date.now();
    // A crash while the database is away: recovered live, its writes kept for later.
    const down = nextUpdate(fleet, 'outage', 'DISCONNECTED', 5_000);
    const back = nextUpdate(fleet, 'outage', 'CONNECTED', 60_000);
    process.kill(fleet.handle('outage').live.browserPid!, 'SIGKILL');
    await down;
    await back;
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downSince)));
    expect(fleet.handle('outage').live.status).toBe('CONNECTED');
    expect(fleet.handle('outage').live.workerPid).not.toBe(workerBefore);

    expect(await startDb()).toBe(url);
    // Every change made while the database was away is written, in order, once it answers again.
    const deadline = Date.now() + 30_000;
    while (fleet.journal.pending > 0 && Date.now() < deadline) await sleep(200);
    expect(fleet.journal.pending).toBe(0);
    const events = (await listEvents(pool, 'outage', 30)).reverse();
    const since = events.findIndex((e) => e.toStatus === 'DISCONNECTED' && e.occurredAt.getTime() >= downSince);
    const moves = events.slice(since).filter((e) => e.toStatus !== null).map((e) => e.toStatus);
    expect(moves[0], JSON.stringify(events.map((e) => [e.seq, e.fromStatus, e.toStatus, e.reason]))).toBe('DISCONNECTED');
    expect(moves).toContain('RECONNECTING');
    expect(moves.at(-1)).toBe('CONNECTED');
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    const row = await fleet.row('outage').then((r) => r!);
    expect(row).toMatchObject({ connectionStatus: 'CONNECTED', reconnectAttempts: 0 });
    expect(fleet.handle('outage').live.status).toBe('CONNECTED');
  });
});
