import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { MARKER_VAR } from '../bench/support/cleanup.js';

const SCRIPT = join(PACKAGE_ROOT, 'scripts', 'ensure-mysql.sh');

/**
 * A MariaDB server of this run alone, from the same ensure-mysql.sh users run: the chaos run
 * stops and starts it, which it must never do to the machine's shared server.
 */
export class PrivateMysql {
  private readonly env: NodeJS.ProcessEnv;

  constructor(dataDir: string, database: string) {
    this.env = {
      ...process.env,
      ENSURE_MYSQL_DATA_DIR: dataDir,
      ENSURE_MYSQL_SKIP_DEFAULT: '1',
      ENSURE_MYSQL_DATABASE: database,
      // Never the shared server: the script would reuse it when this answered.
      MYSQL_URL: 'mysql://root@127.0.0.1:1/none',
    };
    // The server outlives a supervisor's life on purpose: it is not one of the run's processes to reap.
    delete this.env[MARKER_VAR];
  }

  /** Starts the server (or finds it running) and returns its URL. */
  async start(): Promise<string> {
    return (await this.run([], 120_000)).trim();
  }

  async stop(): Promise<void> {
    await this.run(['--stop'], 90_000);
  }

  private run(args: string[], timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile('bash', [SCRIPT, ...args], { env: this.env, timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) =>
        error ? reject(new Error(`ensure-mysql.sh ${args.join(' ')} failed: ${stderr.trim().split('\n').slice(-3).join(' | ') || error.message}`)) : resolve(stdout),
      );
    });
  }
}
