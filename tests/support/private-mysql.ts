import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { runScript } from './run-script.js';

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

export interface PrivateMysql {
  /** Starts (or restarts) the server; resolves with its URL, the same one every time. */
  start(): Promise<string>;
  stop(): Promise<unknown>;
}

/**
 * A private MariaDB a test may stop and start, from the same script users run. Its port is
 * written where the script looks first, so while it is stopped another test's private server
 * cannot take the port: it comes back at the same URL.
 */
export function privateMysql(prefix: string): PrivateMysql {
  const dataDir = mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? '/tmp', `${prefix}-`));
  const env = { ENSURE_MYSQL_DATA_DIR: dataDir, ENSURE_MYSQL_SKIP_DEFAULT: '1', MYSQL_URL: 'mysql://root@127.0.0.1:1/none' };
  let reserved = false;
  return {
    start: async () => {
      if (!reserved) {
        writeFileSync(join(dataDir, 'mariadbd.port'), `${await reservedPort()}\n`);
        reserved = true;
      }
      return (await runScript('ensure-mysql.sh', [], env, 90_000)).stdout.trim();
    },
    stop: () => runScript('ensure-mysql.sh', ['--stop'], env, 60_000),
  };
}
