import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { startChild, type RunningChild } from '../support/child.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { freePort, waitForHttp } from '../support/net.js';

// `npm start` runs the built supervisor: scripts/test.sh builds before the suite.
const BUILT = join(PACKAGE_ROOT, 'dist/src/main.js');

let db: TestDatabase;
let child: RunningChild | undefined;
beforeAll(async () => {
  expect(existsSync(BUILT), `${BUILT} missing: run npm run build`).toBe(true);
  db = await createTestDatabase();
});
afterEach(() => child?.kill());
afterAll(async () => {
  await db?.drop();
});

const START_SCRIPT = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;

function run(command: string, args: string[], env: Record<string, string>): RunningChild {
  const dir = join(process.env.WA_FLEET_TEST_DIR ?? '/tmp', `start-${Date.now()}`);
  child = startChild(command, args, {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, SESSION_STORAGE_PATH: join(dir, 'sessions'), LOG_FORMAT: 'json', ...env },
  });
  return child;
}

const npmStart = (env: Record<string, string>) => run('npm', ['start', '--silent'], env);
// npm does not wait for its child when signalled, so signal tests run the start script itself
// (what npm would run) and watch the supervisor's own exit code.
const startScript = (env: Record<string, string>) => run('sh', ['-c', `exec ${START_SCRIPT}`], env);

describe('npm start', () => {
  it('runs the built supervisor', () => {
    expect(START_SCRIPT).toBe('node dist/src/main.js');
  });

  it('exits non-zero with one line naming a bad setting', async () => {
    const run = npmStart({ MYSQL_URL: db.url, API_KEY: 'k'.repeat(20), HEALTH_CHECK_INTERVAL_MS: 'soon' });
    expect(await run.exited).not.toBe(0);
    expect(run.output().trim()).toBe('wa-fleet: invalid setting HEALTH_CHECK_INTERVAL_MS: expected a whole number of milliseconds (got "soon")');
  });

  it('migrates, answers /healthz, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const run = startScript({ MYSQL_URL: db.url, API_KEY: 'k'.repeat(20), PORT: String(port), HOST: '127.0.0.1' });
    const res = await waitForHttp(`http://127.0.0.1:${port}/healthz`, 20_000);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', database: 'up' });
    expect(run.output()).toContain('applying migration 001_initial.sql');
    run.proc.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('shutdown complete');
  });
});
