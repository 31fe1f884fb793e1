import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withTimeout } from '../../../lib/timeout.js';
import { createLogger, type Logger } from '../../../src/logger/index.js';
import { Checks } from '../../../src/checks/checks.js';
import { checkSettings } from '../../../src/checks/settings.js';
import { Fleet } from '../../../src/supervisor/fleet.js';
import { createTestDatabase, type TestDatabase } from '../../../tests/support/db.js';
import { testConfig } from '../../../tests/support/fleet.js';
import { killProcessesOfRun, markChildrenOfThisRun } from './cleanup.js';
import { FleetWatch } from './fleet-watch.js';
import { chromiumProcessCount, describeError, progress } from './machine.js';

/** A fleet stop that takes longer than this is abandoned: the run's processes are killed instead. */
const FLEET_STOP_TIMEOUT_MS = 30_000;

export const CHROME_PATH = process.env.CHROME_PATH ?? '/usr/bin/chromium';

export interface RunningFleet {
  fleet: Fleet;
  watch: FleetWatch;
  /** The four check loops at the fleet's settings, when the bench asked for them. */
  checks: Checks | null;
}

/** What a fleet bench gets: a throwaway database, a session root, and fleets on both that the run cleans up. */
export interface FleetBenchRun {
  readonly db: TestDatabase;
  readonly sessionRoot: string;
  /** Chromium processes on the machine before this run started any. */
  readonly chromiumAtStart: number;
  /**
   * Starts a fleet in demo mode (fake WhatsApp Web) with the test defaults of
   * tests/support/fleet.ts overridden by `settings`; its events are watched from before its boot.
   */
  startFleet(settings: Record<string, string>, options?: { checks?: boolean }): Promise<RunningFleet>;
  /** Stops the fleet gracefully, then kills whatever of the run it left behind (and says so). */
  stopFleet(running: RunningFleet): Promise<void>;
}

/** Warnings of the fleet (illegal transitions, failed starts) go to stderr with the progress. */
function benchLogger(): Logger {
  return createLogger({ level: 'warn', format: 'pretty', secrets: [], stream: process.stderr });
}

/**
 * Runs `body` with a fresh database and temp folder, and afterwards, whether it returned, threw or
 * was interrupted (Ctrl+C, SIGTERM, SIGHUP), stops its fleets, kills every process the run
 * started (they all carry its marker), drops the database and removes the folder.
 */
export async function runFleetBench(name: string, body: (run: FleetBenchRun) => Promise<void>): Promise<void> {
  const chromiumAtStart = chromiumProcessCount();
  const marker = markChildrenOfThisRun();
  const workDir = mkdtempSync(join(tmpdir(), `wa-fleet-${name}-`));
  // A root bench's workers run as WORKER_USER: they must pass through to the sessions inside.
  chmodSync(workDir, 0o711);
  const sessionRoot = join(workDir, 'sessions');
  mkdirSync(sessionRoot, { mode: 0o700 });
  const log = benchLogger();
  const fleets = new Set<RunningFleet>();
  let db: TestDatabase | null = null;

  async function killLeftovers(when: string): Promise<void> {
    const survivors = await killProcessesOfRun(marker);
    if (survivors.length > 0) progress(`${when}: could not kill ${survivors.map((p) => `${p.pid} ${p.cmdline.slice(0, 80)}`).join('; ')}`);
  }

  async function stopFleet(running: RunningFleet): Promise<void> {
    fleets.delete(running);
    running.watch.close();
    await running.checks?.stop();
    await withTimeout(running.fleet.stop(), FLEET_STOP_TIMEOUT_MS, 'fleet stop').catch((err: unknown) => progress(`fleet stop: ${describeError(err)}`));
    await killLeftovers('after a fleet stop');
  }

  let cleaning: Promise<void> | null = null;
  const cleanUp = (): Promise<void> =>
    (cleaning ??= (async () => {
      await Promise.all([...fleets].map(stopFleet));
      await killLeftovers('cleanup');
      await db?.drop().catch((err: unknown) => progress(`could not drop database ${db?.name}: ${describeError(err)}`));
      rmSync(workDir, { recursive: true, force: true });
      progress(`cleaned up: Chromium processes on the machine ${chromiumAtStart} before the run, ${chromiumProcessCount()} now`);
    })());
  // Workers and browsers lead their own process groups, so a Ctrl+C in the terminal does not reach
  // them. It reaches npx, tsx and this process alike, and tsx relays its copy: the second signal
  // must not end this process (a signal without a listener would) while the cleanup runs.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (cleaning) return progress(`${signal}: already cleaning up`);
      progress(`${signal}: stopping every process of this run`);
      void cleanUp().finally(() => process.exit(130));
    });
  }

  try {
    db = await createTestDatabase({ migrated: true });
    const run: FleetBenchRun = {
      db,
      sessionRoot,
      chromiumAtStart,
      startFleet: async (settings, { checks = false } = {}) => {
        if (cleaning) throw new Error('the run is being cleaned up: no new fleet');
        const config = testConfig(db!.url, sessionRoot, { CHROME_PATH, ...settings });
        const fleet = new Fleet({ config, pool: db!.pool, log });
        const running: RunningFleet = { fleet, watch: new FleetWatch(fleet.events), checks: checks ? new Checks({ fleet, log, settings: checkSettings(config) }) : null };
        fleets.add(running);
        await fleet.start();
        running.checks?.start();
        return running;
      },
      stopFleet,
    };
    await body(run);
  } finally {
    await cleanUp();
  }
}
