import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { findProcessesWithArg } from '../../support/processes.js';
import { runScript } from '../../support/run-script.js';

// A first private start runs mariadb-install-db and waits for mariadbd: seconds on an idle machine,
// far longer on a busy two-core CI one.
const START_MS = 120_000;
const QUICK_MS = 30_000;

function newDataDir(): string {
  return mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? tmpdir(), 'ensure-mysql-'));
}

/** Every mariadbd serving `dataDir`, found by its command line rather than by a pid file. */
const serversOf = (dataDir: string) => findProcessesWithArg(`--datadir=${dataDir}/`);

function readPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'mariadbd.pid'), 'utf8').trim());
}

function isRunning(pid: number): boolean {
  const statFile = `/proc/${pid}/stat`;
  return existsSync(statFile) && !/\) Z /.test(readFileSync(statFile, 'utf8'));
}

/** Logs in with mysql2 exactly as the app would, and names the database the URL selected. */
async function selectedDatabase(url: string): Promise<string> {
  const connection = await mysql.createConnection(url);
  try {
    const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT DATABASE() AS db');
    return String(rows[0]?.db);
  } finally {
    await connection.end();
  }
}

/** Stops whatever private server a test left in `dataDir`, even after a failed assertion. */
async function stopPrivateServer(env: Record<string, string | undefined>, dataDir: string): Promise<void> {
  await runScript('ensure-mysql.sh', ['--stop'], env, QUICK_MS).catch(() => undefined);
  for (const server of serversOf(dataDir)) process.kill(server.pid, 'SIGKILL');
}

describe('scripts/ensure-mysql.sh with the machine server on 127.0.0.1:3306', () => {
  const database = `wafleet_t_ensure_${randomBytes(4).toString('hex')}`;
  const dataDir = newDataDir();
  // A private data dir, so that were 3306 down the fallback would land here and be stopped below.
  const env = {
    MYSQL_URL: undefined,
    ENSURE_MYSQL_SKIP_DEFAULT: undefined,
    ENSURE_MYSQL_DATA_DIR: dataDir,
    ENSURE_MYSQL_DATABASE: database,
    ENSURE_MYSQL_STOP_TIMEOUT: '20',
  };

  afterAll(async () => {
    await stopPrivateServer(env, dataDir);
    const connection = await mysql.createConnection('mysql://root@127.0.0.1:3306/');
    await connection.query(`DROP DATABASE IF EXISTS \`${database}\``).finally(() => connection.end());
  });

  it('prints one URL for root on 3306 whose database it created and mysql2 can log into', async () => {
    const { stdout } = await runScript('ensure-mysql.sh', [], env, QUICK_MS);

    expect(stdout).toBe(`mysql://root@127.0.0.1:3306/${database}\n`);
    expect(await selectedDatabase(stdout.trim())).toBe(database);
  });
});

describe('scripts/ensure-mysql.sh when no configured server answers', () => {
  const dataDir = newDataDir();
  const env = {
    MYSQL_URL: 'mysql://root@127.0.0.1:1/x',
    ENSURE_MYSQL_SKIP_DEFAULT: '1',
    ENSURE_MYSQL_DATA_DIR: dataDir,
    ENSURE_MYSQL_DATABASE: undefined,
    ENSURE_MYSQL_STOP_TIMEOUT: '20',
  };
  let firstUrl = '';
  let firstPid = 0;

  afterAll(() => stopPrivateServer(env, dataDir), QUICK_MS + 10_000);

  it('starts a private MariaDB in the data dir on another port and prints a URL mysql2 can log into', async () => {
    const { stdout, stderr } = await runScript('ensure-mysql.sh', [], env, START_MS);

    firstUrl = stdout.trim();
    firstPid = readPid(dataDir);
    expect(stdout).toMatch(/^mysql:\/\/root@127\.0\.0\.1:\d+\/wa_fleet\n$/);
    expect(firstUrl).not.toContain(':3306/');
    expect(stderr).toContain('MYSQL_URL (mysql://root@127.0.0.1:1/x) does not answer');
    expect(stderr).toContain('--stop');
    expect(serversOf(dataDir).map((p) => p.pid)).toEqual([firstPid]);
    expect(await selectedDatabase(firstUrl)).toBe('wa_fleet');
  }, START_MS + 10_000);

  it('reuses the running private server on a second call: same URL, same pid', async () => {
    const { stdout, stderr } = await runScript('ensure-mysql.sh', [], env, QUICK_MS);

    expect(stdout.trim()).toBe(firstUrl);
    expect(readPid(dataDir)).toBe(firstPid);
    expect(stderr).toContain(`reusing the private MariaDB pid ${firstPid}`);
    expect(serversOf(dataDir).map((p) => p.pid)).toEqual([firstPid]);
  }, QUICK_MS + 10_000);

  it('--stop stops the private server and its process is gone', async () => {
    const { stdout } = await runScript('ensure-mysql.sh', ['--stop'], env, QUICK_MS);

    expect(stdout).toContain(`stopped mariadbd pid ${firstPid}`);
    expect(isRunning(firstPid)).toBe(false);
    expect(serversOf(dataDir)).toEqual([]);
  }, QUICK_MS + 10_000);
});

describe('scripts/ensure-mysql.sh called for two data dirs at once', () => {
  const dirs = [newDataDir(), newDataDir()];
  const envOf = (dataDir: string) => ({
    MYSQL_URL: 'mysql://root@127.0.0.1:1/x',
    ENSURE_MYSQL_SKIP_DEFAULT: '1',
    ENSURE_MYSQL_DATA_DIR: dataDir,
    ENSURE_MYSQL_DATABASE: undefined,
    ENSURE_MYSQL_STOP_TIMEOUT: '20',
  });

  afterAll(() => Promise.all(dirs.map((d) => stopPrivateServer(envOf(d), d))), QUICK_MS + 10_000);

  it('starts two servers on two ports, each URL reaching the server of its own data dir', async () => {
    // Found by running two chaos runs at once: both chose the same free port, and the second
    // took the first's server, already answering there, for its own.
    const outputs = await Promise.all(dirs.map((d) => runScript('ensure-mysql.sh', [], envOf(d), START_MS)));
    const urls = outputs.map((o) => o.stdout.trim());
    expect(new Set(urls).size).toBe(2);
    for (const [i, url] of urls.entries()) {
      const connection = await mysql.createConnection(url);
      try {
        const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT @@datadir AS dir');
        expect(String(rows[0]?.dir)).toBe(`${dirs[i]}/db/`);
      } finally {
        await connection.end();
      }
    }
  }, 2 * START_MS + 10_000);
});
