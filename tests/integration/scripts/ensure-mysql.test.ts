import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../src/paths.js';
import { findProcessesWithArg } from '../../support/processes.js';
import { runScript, type ScriptOutput } from '../../support/run-script.js';

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
    expect(stdout).toMatch(/^mysql:\/\/wa_fleet:[0-9a-f]{48}@127\.0\.0\.1:\d+\/wa_fleet\n$/);
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

// ---- the private server, locked down (issue 13) ------------------------------------------------

const MYSQL_UID = Number(execFileSync('id', ['-u', 'mysql'], { encoding: 'utf8' }).trim());

/** The uid mariadbd runs as, from /proc (the real one: the first of the four). */
function uidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'));
  return Number(line?.split(/\s+/)[1]);
}

const portOf = (dataDir: string) => Number(readFileSync(join(dataDir, 'mariadbd.port'), 'utf8').trim());

/** Runs a command, resolving with its exit code and output whatever the code. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { env, timeout: QUICK_MS }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) || 1 : 0, out: `${stdout}${stderr}` }),
    );
  });
}

/** SQL as root through the private server's socket (unix_socket authentication): the admin's way in. */
function asRootThroughSocket(dataDir: string, sql: string): string {
  return execFileSync('mariadb', ['--no-defaults', `--socket=${dataDir}/run/mariadbd.sock`, '-uroot', '--batch', '--skip-column-names', '-e', sql], {
    encoding: 'utf8',
  });
}

/** mysql2's error for a login or query that should be refused (undefined if it went through). */
async function refusal(work: () => Promise<unknown>): Promise<{ code?: string; message: string } | undefined> {
  try {
    await work();
    return undefined;
  } catch (error) {
    return error as { code?: string; message: string };
  }
}

async function withConnection<T>(url: string, work: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const connection = await mysql.createConnection(url);
  try {
    return await work(connection);
  } finally {
    await connection.end();
  }
}

/** Root with no password over TCP, from this (root) process and from another local user. */
async function rootOverTcp(port: number): Promise<{ fromMysql2?: string; fromNobody: { code: number; out: string } }> {
  const error = await refusal(() => withConnection(`mysql://root@127.0.0.1:${port}/`, (c) => c.query('SELECT 1')));
  const fromNobody = await run('su', ['nobody', '-s', '/bin/sh', '-c', `mariadb --no-defaults -h127.0.0.1 -P${port} -uroot -e 'select 1'`]);
  return { fromMysql2: error?.code, fromNobody };
}

describe('scripts/ensure-mysql.sh: the private MariaDB is locked down', () => {
  // Under a folder closed to the mysql user (mode 0700, like /root above a clone there).
  const closed = newDataDir();
  const dataDir = join(closed, 'mysql');
  const env = {
    MYSQL_URL: 'mysql://root@127.0.0.1:1/x',
    ENSURE_MYSQL_SKIP_DEFAULT: '1',
    ENSURE_MYSQL_DATA_DIR: dataDir,
    ENSURE_MYSQL_DATABASE: undefined,
    ENSURE_MYSQL_STOP_TIMEOUT: '20',
  };
  let first: ScriptOutput;
  let url = '';
  let password = '';
  let port = 0;

  beforeAll(async () => {
    first = await runScript('ensure-mysql.sh', [], env, START_MS);
    url = first.stdout.trim();
    password = decodeURIComponent(new URL(url).password);
    port = portOf(dataDir);
  }, START_MS + 10_000);
  afterAll(() => stopPrivateServer(env, dataDir), QUICK_MS + 10_000);

  it('prints a URL for wa_fleet with a generated password; mysql2 logs in; secure_file_priv is its empty folder', async () => {
    expect(first.stdout).toBe(`mysql://wa_fleet:${password}@127.0.0.1:${port}/wa_fleet\n`);
    expect(password).toMatch(/^[0-9a-f]{48}$/);
    expect(await selectedDatabase(url)).toBe('wa_fleet');
    const [rows] = await withConnection(url, (c) => c.query<mysql.RowDataPacket[]>('SELECT @@secure_file_priv AS dir, CURRENT_USER() AS me'));
    expect(rows[0]).toEqual({ dir: `${dataDir}/secure-file-priv/`, me: 'wa_fleet@127.0.0.1' });
    expect(readdirSync(join(dataDir, 'secure-file-priv'))).toEqual([]);
  });

  it('lets the mysql user through the closed folder above the data dir, and no one else', () => {
    const folder = statSync(closed);
    const mysqlGid = Number(execFileSync('id', ['-g', 'mysql'], { encoding: 'utf8' }).trim());
    expect({ mode: (folder.mode & 0o777).toString(8), gid: folder.gid }).toEqual({ mode: '710', gid: mysqlGid });
    expect(first.stderr).toContain(`let the 'mysql' user through ${closed}`);
  });

  it('runs mariadbd as the mysql user, with its socket in a 0700 folder of that user', () => {
    const pid = readPid(dataDir);
    expect(serversOf(dataDir).map((p) => p.pid)).toEqual([pid]);
    expect(uidOf(pid)).not.toBe(0);
    expect(uidOf(pid)).toBe(MYSQL_UID);
    const runDir = statSync(join(dataDir, 'run'));
    expect({ mode: (runDir.mode & 0o777).toString(8), uid: runDir.uid }).toEqual({ mode: '700', uid: MYSQL_UID });
    expect(asRootThroughSocket(dataDir, 'SELECT @@socket').trim()).toBe(`${dataDir}/run/mariadbd.sock`);
  });

  it('refuses root over TCP, from this process (mysql2) and from another local user (mariadb client as nobody)', async () => {
    const { fromMysql2, fromNobody } = await rootOverTcp(port);
    expect(fromMysql2).toBe('ER_ACCESS_DENIED_ERROR');
    expect(fromNobody.code).not.toBe(0);
    expect(fromNobody.out).toContain("Access denied for user 'root'@'127.0.0.1'");
    // Nor can another user reach the socket, where root logs in.
    const socket = await run('su', ['nobody', '-s', '/bin/sh', '-c', `mariadb --no-defaults --socket=${dataDir}/run/mariadbd.sock -uroot -e 'select 1'`]);
    expect(socket.code).not.toBe(0);
    expect(socket.out).toContain("Can't connect to local server through socket");
    // The accounts left: root and mariadb.sys on localhost only (socket), wa_fleet on 127.0.0.1.
    const accounts = asRootThroughSocket(dataDir, "SELECT CONCAT(User, '@', Host) FROM mysql.user ORDER BY 1").trim().split('\n');
    expect(accounts.filter((a) => a.startsWith('root@'))).toEqual(['root@localhost']);
    expect(accounts.filter((a) => !a.endsWith('@localhost'))).toEqual(['wa_fleet@127.0.0.1']);
  });

  it('gives wa_fleet its database only: no other database (not even one its name matches as a pattern), no FILE', async () => {
    // 'waxfleet' would match an unescaped GRANT ON `wa_fleet`.* ('_' is a wildcard there).
    asRootThroughSocket(dataDir, 'CREATE DATABASE IF NOT EXISTS waxfleet; CREATE DATABASE IF NOT EXISTS other_app');
    const seen = await withConnection(url, async (c) => {
      const [databases] = await c.query<mysql.RowDataPacket[]>('SHOW DATABASES');
      const [grants] = await c.query<mysql.RowDataPacket[]>('SHOW GRANTS');
      const [file] = await c.query<mysql.RowDataPacket[]>("SELECT LOAD_FILE('/etc/passwd') AS f");
      return { databases: databases.map((r) => String(Object.values(r)[0])), grants: grants.map((r) => String(Object.values(r)[0])), file: file[0]?.f };
    });
    expect(seen.databases).toEqual(['information_schema', 'wa_fleet']);
    expect(seen.grants.join('\n')).not.toMatch(/\bFILE\b|ON \*\.\* TO .*ALL/);
    expect(seen.file).toBeNull();
    for (const other of ['waxfleet', 'other_app', 'mysql']) {
      const error = await refusal(() => withConnection(url, (c) => c.query(`USE \`${other}\``)));
      expect(error?.code, other).toBe('ER_DBACCESS_DENIED_ERROR');
    }
    for (const target of ['/tmp/ensure-mysql-outfile-test', `${dataDir}/secure-file-priv/x`]) {
      const error = await refusal(() => withConnection(url, (c) => c.query(`SELECT 1 INTO OUTFILE '${target}'`)));
      expect(error?.code, target).toBe('ER_SPECIFIC_ACCESS_DENIED_ERROR');
      expect(error?.message).toContain('FILE privilege');
      expect(existsSync(target)).toBe(false);
    }
  });

  it('keeps the password in a 0600 file, prints the same URL on the next call, and never writes the password on stderr or in its logs', async () => {
    const file = statSync(join(dataDir, 'wa_fleet.password'));
    expect({ mode: (file.mode & 0o777).toString(8), uid: file.uid }).toEqual({ mode: '600', uid: 0 });
    expect(readFileSync(join(dataDir, 'wa_fleet.password'), 'utf8')).toBe(`${password}\n`);

    const again = await runScript('ensure-mysql.sh', [], env, QUICK_MS);
    expect(again.stdout.trim()).toBe(url);
    expect(again.stderr).toContain('mysql://wa_fleet:***@127.0.0.1');
    // A URL of ours whose port is stale (the server moved) is still recognised by its password.
    const moved = await runScript('ensure-mysql.sh', [], { ...env, MYSQL_URL: url.replace(`:${port}/`, ':1/') }, QUICK_MS);
    expect(moved.stdout.trim()).toBe(url);
    expect(moved.stderr).toContain('is the private MariaDB of');
    for (const text of [first.stderr, again.stderr, moved.stderr, readFileSync(join(dataDir, 'mariadbd.log'), 'utf8'), readFileSync(join(dataDir, 'install-db.log'), 'utf8')]) {
      expect(text).not.toContain(password);
    }
  }, QUICK_MS + 10_000);
});

/** The ensure-mysql.sh of before issue 13, kept as a fixture: it makes data dirs the old way. */
const OLD_SCRIPT = join(PACKAGE_ROOT, 'tests', 'fixtures', 'mysql', 'ensure-mysql-before-hardening.sh');

function runOldScript(args: string[], env: Record<string, string | undefined>, timeoutMs: number): Promise<ScriptOutput> {
  const childEnv = { ...process.env };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[key];
    else childEnv[key] = value;
  }
  return new Promise((resolve, reject) => {
    execFile('bash', [OLD_SCRIPT, ...args], { cwd: '/', env: childEnv, timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) =>
      error ? reject(error) : resolve({ stdout, stderr }),
    );
  });
}

describe('scripts/ensure-mysql.sh upgrades a data dir made by its older version', () => {
  const dataDir = newDataDir();
  const oldEnv = {
    MYSQL_URL: 'mysql://root@127.0.0.1:1/x',
    ENSURE_MYSQL_SKIP_DEFAULT: '1',
    ENSURE_MYSQL_DATA_DIR: dataDir,
    ENSURE_MYSQL_DATABASE: undefined,
    ENSURE_MYSQL_STOP_TIMEOUT: '20',
  };
  let oldUrl = '';
  let oldPid = 0;

  beforeAll(async () => {
    // The old way: mariadbd run as root, root without a password over TCP, a row of the app's.
    oldUrl = (await runOldScript([], oldEnv, START_MS)).stdout.trim();
    oldPid = readPid(dataDir);
    await withConnection(oldUrl, async (c) => {
      await c.query('CREATE TABLE kept (id INT PRIMARY KEY)');
      await c.query('INSERT INTO kept VALUES (42)');
    });
  }, START_MS + 10_000);
  afterAll(() => stopPrivateServer(oldEnv, dataDir), QUICK_MS + 10_000);

  it('starts from the old layout: root over TCP without a password, mariadbd as root', async () => {
    expect(oldUrl).toBe(`mysql://root@127.0.0.1:${portOf(dataDir)}/wa_fleet`);
    expect(uidOf(oldPid)).toBe(0);
    expect((await rootOverTcp(portOf(dataDir))).fromNobody.code).toBe(0);
  });

  it('given the old root URL (as .env holds it), restarts the server locked down and prints the wa_fleet URL; the data is kept', async () => {
    // As quickstart.sh calls it: MYSQL_URL from .env, the default server on 3306 not skipped.
    const { stdout, stderr } = await runScript('ensure-mysql.sh', [], { ...oldEnv, MYSQL_URL: oldUrl, ENSURE_MYSQL_SKIP_DEFAULT: undefined }, START_MS);

    const port = portOf(dataDir);
    const password = readFileSync(join(dataDir, 'wa_fleet.password'), 'utf8').trim();
    expect(stdout).toBe(`mysql://wa_fleet:${password}@127.0.0.1:${port}/wa_fleet\n`);
    expect(stderr).toContain('started by an older ensure-mysql.sh');
    expect(stderr).not.toContain(password);
    expect(isRunning(oldPid)).toBe(false);
    const pid = readPid(dataDir);
    expect(serversOf(dataDir).map((p) => p.pid)).toEqual([pid]);
    expect(uidOf(pid)).toBe(MYSQL_UID);

    const [rows] = await withConnection(stdout.trim(), (c) => c.query<mysql.RowDataPacket[]>('SELECT id, @@secure_file_priv AS dir FROM kept'));
    expect(rows).toEqual([{ id: 42, dir: `${dataDir}/secure-file-priv/` }]);
    const { fromMysql2, fromNobody } = await rootOverTcp(port);
    expect(fromMysql2).toBe('ER_ACCESS_DENIED_ERROR');
    expect(fromNobody.code).not.toBe(0);
    expect(fromNobody.out).toContain("Access denied for user 'root'@'127.0.0.1'");
    expect(execFileSync('find', [join(dataDir, 'db'), '!', '-user', 'mysql'], { encoding: 'utf8' })).toBe('');
  }, START_MS + 10_000);

  it('the new URL, given back as MYSQL_URL, reuses the server as it is', async () => {
    const current = readFileSync(join(dataDir, 'mariadbd.pid'), 'utf8').trim();
    const port = portOf(dataDir);
    const password = readFileSync(join(dataDir, 'wa_fleet.password'), 'utf8').trim();
    const url = `mysql://wa_fleet:${password}@127.0.0.1:${port}/wa_fleet`;
    const { stdout, stderr } = await runScript('ensure-mysql.sh', [], { ...oldEnv, MYSQL_URL: url, ENSURE_MYSQL_SKIP_DEFAULT: undefined }, QUICK_MS);
    expect(stdout.trim()).toBe(url);
    expect(stderr).toContain(`reusing the private MariaDB pid ${current}`);
  }, QUICK_MS + 10_000);
});
