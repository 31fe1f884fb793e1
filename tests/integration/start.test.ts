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
// The start script itself, as npm runs it (sh -c), to watch the supervisor's own exit code; a
// signal to npm's pid reaching it is tests/e2e/npm-signals.test.ts.
const startScript = (env: Record<string, string>) => run('sh', ['-c', START_SCRIPT], env);

describe('npm start', () => {
  it('runs the built supervisor in the place of its shell, so signals to npm reach it', () => {
    expect(START_SCRIPT).toBe('exec node dist/src/main.js');
  });

  it('exits non-zero with one line naming a bad setting', async () => {
    const run = npmStart({ MYSQL_URL: db.url, API_KEY: 'k'.repeat(20), HEALTH_CHECK_INTERVAL_MS: 'soon' });
    expect(await run.exited).not.toBe(0);
    expect(run.output().trim()).toBe('wa-fleet: invalid setting HEALTH_CHECK_INTERVAL_MS: expected a whole number of milliseconds (got "soon")');
  });

  it('exits 1 with one line, not a stack trace, for a MySQL URL with a bad percent-escape', async () => {
    const run = npmStart({ MYSQL_URL: 'mysql://u:p%zz@h/db', API_KEY: 'k'.repeat(20) });
    expect(await run.exited).toBe(1);
    expect(run.output().trim()).toBe('wa-fleet: invalid setting MYSQL_URL: malformed percent-escape in the password (write a literal % as %25)');
  });

  it('exits 1 with one line for an API key under 32 characters in production', async () => {
    const run = npmStart({ MYSQL_URL: db.url, API_KEY: 'k'.repeat(31), NODE_ENV: 'production' });
    expect(await run.exited).toBe(1);
    expect(run.output().trim()).toBe('wa-fleet: invalid setting API_KEY: must be at least 32 characters when NODE_ENV=production');
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
