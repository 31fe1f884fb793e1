import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../../lib/timeout.js';
import { freePort } from '../../tests/support/net.js';
import { killProcessesOfRun, markChildrenOfThisRun } from '../bench/support/cleanup.js';
import { ApiClient, type InstanceSummary } from './api-client.js';
import { PrivateMysql } from './private-mysql.js';
import { demoModeEnv, SupervisorProcess } from './supervisor-process.js';

/**
 * Every check loop at a short interval, so that minutes of a run hold hours of checking and a
 * zombie or a leak is caught within a chaos fault's settle bound; the rest are product defaults.
 */
export const SHORT_LOOPS: Readonly<Record<string, string>> = {
  HEALTH_CHECK_INTERVAL_MS: '5000',
  HEALTH_CHECK_START_DELAY_MS: '5000',
  // Below the interval, as the config requires.
  HEALTH_CHECK_TIMEOUT_MS: '3000',
  DEEP_CHECK_INTERVAL_MS: '20000',
  RECOVERY_INTERVAL_MS: '10000',
  MEMORY_CHECK_INTERVAL_MS: '10000',
  MEMORY_SAMPLE_INTERVAL_MS: '5000',
};

export interface DemoRunOptions {
  /** Names the scratch folder and the private database (`chaos`, `soak`). */
  name: string;
  /** Folder that keeps the supervisor's log after the run. */
  outDir: string;
  /** Settings on top of demo mode's (loop intervals, webhook URL…). */
  settings: Record<string, string>;
  chromePath: string;
  /** The supervisor entry to run instead of the build's (see scripts/chaos/defects.ts). */
  entry?: string;
}

/**
 * A supervisor started the way a user starts it in demo mode (built entry, fake WhatsApp Web,
 * its own MariaDB from ensure-mysql.sh, its own session folder, a random API key), for the chaos
 * and soak runs. Every process it starts carries the run's marker, so close() leaves nothing behind
 * whatever state the run ended in.
 */
export class DemoRun {
  readonly api: ApiClient;
  readonly mysql: PrivateMysql;
  readonly supervisor: SupervisorProcess;
  readonly sessionRoot: string;
  readonly logFile: string;
  readonly webhookSecret = randomBytes(24).toString('hex');
  private constructor(
    readonly scratch: string,
    readonly mysqlUrl: string,
    readonly marker: string,
    port: number,
    apiKey: string,
    options: DemoRunOptions,
    mysql: PrivateMysql,
  ) {
    this.mysql = mysql;
    this.sessionRoot = join(scratch, 'sessions');
    this.logFile = join(options.outDir, 'supervisor.log');
    const baseUrl = `http://127.0.0.1:${port}`;
    this.api = new ApiClient(baseUrl, apiKey);
    this.supervisor = new SupervisorProcess({
      cwd: scratch,
      logFile: this.logFile,
      baseUrl,
      entry: options.entry,
      env: {
        ...demoModeEnv({ port, apiKey, mysqlUrl, dir: scratch, chromePath: options.chromePath }),
        WEBHOOK_SECRET: this.webhookSecret,
        ...options.settings,
      },
    });
  }

  static async start(options: DemoRunOptions): Promise<DemoRun> {
    mkdirSync(options.outDir, { recursive: true });
    const marker = markChildrenOfThisRun();
    const scratch = mkdtempSync(join(tmpdir(), `wa-fleet-${options.name}-`));
    // A root supervisor's workers run as WORKER_USER: they must pass through to the sessions inside.
    chmodSync(scratch, 0o711);
    const mysql = new PrivateMysql(join(scratch, 'mysql'), `wa_fleet_${options.name}`);
    try {
      const mysqlUrl = await mysql.start();
      const run = new DemoRun(scratch, mysqlUrl, marker, await freePort(), randomBytes(24).toString('hex'), options, mysql);
      await run.supervisor.start();
      return run;
    } catch (err) {
      // A start that failed halfway (a bad setting, a port taken) must not leave MariaDB or a supervisor behind.
      await killProcessesOfRun(marker);
      await mysql.stop().catch(() => undefined);
      rmSync(scratch, { recursive: true, force: true });
      throw err;
    }
  }

  /** Creates the instances through the API and links each through the demo scan, as a newcomer would. */
  async link(ids: readonly string[], timeoutMs = 120_000): Promise<void> {
    for (const id of ids) await this.api.create(id);
    await Promise.all(ids.map((id) => this.relink(id, timeoutMs)));
  }

  /** Scans the QR of an instance waiting for one, then waits for CONNECTED. */
  async relink(id: string, timeoutMs = 120_000): Promise<void> {
    await this.waitFor(id, (i) => i.connectionStatus === 'QR_REQUIRED', timeoutMs, 'QR_REQUIRED');
    await this.api.demo(id, 'scan');
    await this.waitFor(id, (i) => i.connectionStatus === 'CONNECTED', timeoutMs, 'CONNECTED');
  }

  async waitFor(id: string, condition: (i: InstanceSummary) => boolean, timeoutMs: number, what: string): Promise<InstanceSummary> {
    const deadline = Date.now() + timeoutMs;
    let last: InstanceSummary | undefined;
    for (;;) {
      last = (await this.api.instances().catch(() => [])).find((i) => i.id === id) ?? last;
      if (last && condition(last)) return last;
      if (Date.now() > deadline) throw new Error(`${id} not ${what} within ${timeoutMs} ms (last: ${last?.connectionStatus ?? 'unknown'})`);
      await sleep(250);
    }
  }

  /** Graceful stop, then nothing of the run left: processes, database server, scratch folder. */
  async close(): Promise<string[]> {
    const problems: string[] = [];
    const exit = await this.supervisor.stop(40_000).catch(() => null);
    if (exit === null) problems.push('the supervisor did not exit within 40 s of SIGTERM and was killed');
    const survivors = await killProcessesOfRun(this.marker);
    if (survivors.length > 0) problems.push(`processes left after the run: ${survivors.map((p) => p.pid).join(', ')}`);
    await this.mysql.stop().catch((err: unknown) => problems.push(String(err)));
    rmSync(this.scratch, { recursive: true, force: true });
    return problems;
  }
}
