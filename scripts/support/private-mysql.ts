import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { MARKER_VAR } from '../bench/support/cleanup.js';

const SCRIPT = join(PACKAGE_ROOT, 'scripts', 'ensure-mysql.sh');

/** A free port outside the range ensure-mysql.sh scans (3307…) and below the ephemeral range. */
async function reservedPort(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port between 20000 and 29999');
}

/**
 * A MariaDB server of one run or test alone, from the same ensure-mysql.sh users run: the chaos
 * run and the outage tests stop and start it, which they must never do to the machine's shared
 * server. Its port is chosen outside the script's scan range and written where the script looks
 * first, so while it is stopped no other private server takes the port: it comes back at the
 * same URL (another run's server there would turn the outage into a different database).
 */
export class PrivateMysql {
  private readonly env: NodeJS.ProcessEnv;

  constructor(
    private readonly dataDir: string,
    database?: string,
  ) {
    this.env = {
      ...process.env,
      ENSURE_MYSQL_DATA_DIR: dataDir,
      ENSURE_MYSQL_SKIP_DEFAULT: '1',
      ...(database ? { ENSURE_MYSQL_DATABASE: database } : {}),
      // Never the shared server: the script would reuse it when this answered.
      MYSQL_URL: 'mysql://root@127.0.0.1:1/none',
    };
    // The server outlives a supervisor's life on purpose: it is not one of the run's processes to reap.
    delete this.env[MARKER_VAR];
  }

  /** Starts the server (or finds it running) and returns its URL, the same one every time. */
  // Arrow properties: callers pass `start` and `stop` around as plain functions.
  readonly start = async (): Promise<string> => {
    const portFile = join(this.dataDir, 'mariadbd.port');
    if (!existsSync(portFile)) {
      mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
      writeFileSync(portFile, `${await reservedPort()}\n`);
    }
    return (await this.run([], 120_000)).trim();
  };

  readonly stop = async (): Promise<void> => {
    await this.run(['--stop'], 90_000);
  };

  private run(args: string[], timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('bash', [SCRIPT, ...args], { env: this.env, timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) =>
        error ? reject(new Error(`ensure-mysql.sh ${args.join(' ')} failed: ${stderr.trim().split('\n').slice(-3).join(' | ') || error.message}`)) : resolve(stdout),
      );
    });
  }
}
