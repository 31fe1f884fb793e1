import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../../../lib/timeout.js';
import { SETTINGS } from '../../../src/config/index.js';
import { PACKAGE_ROOT } from '../../../src/paths.js';
import { createTestDatabase, type TestDatabase } from '../../../tests/support/db.js';
import { freePort } from '../../../tests/support/net.js';
import { ApiClient } from '../../support/api-client.js';
import { SUPERVISOR_ENTRY, SupervisorProcess, type SupervisorExit } from '../../support/supervisor-process.js';
import { killProcessesOfRun, markChildrenOfThisRun, processesOfRun } from './cleanup.js';
import { describeError, progress } from './machine.js';
import type { RunningLoad } from './route-load.js';
import { summarizeLog, type LogSummary } from './scale-log.js';

/** The graceful stop at the end: SHUTDOWN_TIMEOUT_MS (25 s) and some room, as pm2's kill_timeout. */
const STOP_GRACE_MS = 40_000;
/** After the stop, the run's processes (crashpad handlers last) have this long to be gone by themselves. */
const LEFTOVER_WAIT_MS = 5_000;
/** A request to the supervisor that takes longer than this counts as unanswered. */
const REQUEST_TIMEOUT_MS = 15_000;

/** What the end of the run found. */
export interface RunEnd {
  /** The graceful stop's exit; null when SIGTERM was not enough within STOP_GRACE_MS. */
  exit: SupervisorExit | null;
  /** Processes of the run still there LEFTOVER_WAIT_MS after the stop (then killed). */
  leftovers: string[];
  /** What `pgrep -f <the run's folder>` still lists once they were killed: Chromium on the run's profiles. */
  pgrepAfterKill: string[];
  log: LogSummary;
}

/**
 * The scale bench's supervisor: the build (`node dist/src/main.js`, as `npm start`) in its own
 * process, in demo mode, on a throwaway database on MYSQL_URL and a session folder in a temp
 * folder, with the product's defaults for every other setting (the shell's wa-fleet settings are
 * not passed on). Every process it starts carries the run's marker, so that the end of the run,
 * a failure or a Ctrl+C leaves nothing behind.
 */
export class ScaleRun {
  readonly api: ApiClient;
  readonly logFile: string;
  /** The autocannon load in progress, stopped by a Ctrl+C. */
  load: RunningLoad | null = null;
  private cleaning: Promise<void> | null = null;

  private constructor(
    readonly marker: string,
    readonly scratch: string,
    readonly db: TestDatabase,
    readonly supervisor: SupervisorProcess,
    readonly apiKey: string,
    readonly baseUrl: string,
    /** The settings given to the supervisor beyond where it listens, its key and its paths. */
    readonly settings: Record<string, string>,
  ) {
    this.api = new ApiClient(baseUrl, apiKey, REQUEST_TIMEOUT_MS);
    this.logFile = join(scratch, 'supervisor.log');
  }

  /** `settings`: product settings given on top of the run's own (`--set`), named in the report. */
  static async start(o: { capMb: number; chromePath: string; settings?: Record<string, string> }): Promise<ScaleRun> {
    const marker = markChildrenOfThisRun();
    const scratch = mkdtempSync(join(tmpdir(), 'wa-fleet-scale-'));
    // Run as root, the supervisor starts its workers as WORKER_USER: they must pass through to the sessions inside.
    chmodSync(scratch, 0o711);
    let db: TestDatabase | null = null;
    try {
      db = await createTestDatabase({ migrated: true });
      const port = await freePort();
      const baseUrl = `http://127.0.0.1:${port}`;
      const apiKey = randomBytes(24).toString('hex');
      const settings = { WA_FLEET_FAKE_WEB: 'true', LOG_FORMAT: 'json', FLEET_MEMORY_CAP_MB: String(o.capMb), CHROME_PATH: o.chromePath, ...o.settings };
      const shell = Object.fromEntries(Object.entries(process.env).filter(([name]) => !(name in SETTINGS)));
      const env = {
        ...shell,
        ...settings,
        HOST: '127.0.0.1',
        PORT: String(port),
        API_KEY: apiKey,
        MYSQL_URL: db.url,
        SESSION_STORAGE_PATH: join(scratch, 'sessions'),
        CACHE_PATH: join(scratch, 'wwebjs_cache'),
      };
      // cwd: the supervisor reads `.env` from there, and the scratch folder has none.
      const supervisor = new SupervisorProcess({ cwd: scratch, env, logFile: join(scratch, 'supervisor.log'), baseUrl });
      const run = new ScaleRun(marker, scratch, db, supervisor, apiKey, baseUrl, settings);
      run.stopOnSignals();
      return run;
    } catch (err) {
      await db?.drop().catch(() => undefined);
      rmSync(scratch, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * The supervisor and the workers it spawned share the terminal's process group, so a Ctrl+C
   * reaches them too; the browsers lead groups of their own and do not get it. `on`, not `once`:
   * tsx relays the signal a second time, which must not end this process mid-cleanup.
   */
  private stopOnSignals(): void {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => {
        if (this.cleaning) return progress(`${signal}: already cleaning up`);
        progress(`${signal}: stopping every process of this run`);
        void this.cleanUp(10_000).finally(() => process.exit(130));
      });
    }
  }

  /** Stops the supervisor, kills whatever of the run is left, drops the database, removes the folder. Once. */
  cleanUp(graceMs = STOP_GRACE_MS): Promise<void> {
    return (this.cleaning ??= (async () => {
      this.load?.stop();
      await this.supervisor.stop(graceMs).catch((err: unknown) => progress(`cleanup: supervisor stop: ${describeError(err)}`));
      const survivors = await killProcessesOfRun(this.marker);
      if (survivors.length > 0) progress(`cleanup: could not kill ${survivors.map((p) => `${p.pid} ${p.cmdline.slice(0, 80)}`).join('; ')}`);
      await this.db.drop().catch((err: unknown) => progress(`cleanup: could not drop database ${this.db.name}: ${describeError(err)}`));
      rmSync(this.scratch, { recursive: true, force: true });
    })());
  }

  /**
   * The end of a run that got this far: a graceful stop (SIGTERM, as pm2 and systemd stop it),
   * what it left running, the log read, then the cleanup, checked with pgrep.
   */
  async end(ids: readonly string[]): Promise<RunEnd> {
    const exit = await this.supervisor.stop(STOP_GRACE_MS);
    let left = processesOfRun(this.marker);
    for (const deadline = Date.now() + LEFTOVER_WAIT_MS; left.length > 0 && Date.now() < deadline; left = processesOfRun(this.marker)) await sleep(250);
    const log = summarizeLog(this.logFile, ids);
    await this.cleanUp();
    return { exit, leftovers: left.map((p) => `${p.pid} ${p.cmdline.slice(0, 100)}`), pgrepAfterKill: pgrep(this.scratch), log };
  }
}

/** `pgrep -fa <text>`: the processes whose command line holds it (none: pgrep exits 1). */
function pgrep(text: string): string[] {
  try {
    return execFileSync('pgrep', ['-fa', '--', text], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** The commit, whether src/ or lib/ differ from it, and when dist/ (what the run starts) was built. */
export function codeFacts(): string {
  let built: string;
  try {
    built = statSync(SUPERVISOR_ENTRY).mtime.toISOString();
  } catch {
    built = 'unknown';
  }
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const changed = git('status', '--porcelain', '--', 'src', 'lib') !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${changed ? ' (src/ or lib/ with uncommitted changes)' : ''}; dist/ built ${built}`;
  } catch {
    return `not a git checkout; dist/ built ${built}`;
  }
}
