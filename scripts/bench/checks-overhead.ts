/**
 * What the check loops cost the supervisor: its CPU and RSS with N stand-in instances (workers
 * that speak the IPC protocol without a browser, all CONNECTED), measured with the loops off,
 * with every loop (health, deep, recovery, memory, memory sampling) at 1 s, and off again (the
 * second "off" row shows the drift of the machine during the run). One run, one table.
 *
 * Run: npx tsx scripts/bench/checks-overhead.ts [--instances 50] [--seconds 20]
 *
 * A throwaway database on MYSQL_URL; every process the run starts carries its marker and is
 * killed at the end, whatever happens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pLimit from 'p-limit';
import { sleep } from '../../lib/timeout.js';
import { Checks } from '../../src/checks/checks.js';
import { checkSettings } from '../../src/checks/settings.js';
import type { CronLoopStats } from '../../lib/cron-loop.js';
import { Fleet } from '../../src/supervisor/fleet.js';
import { createTestDatabase, type TestDatabase } from '../../tests/support/db.js';
import { standInLauncher, testConfig, waitForStatus } from '../../tests/support/fleet.js';
import { silentLogger } from '../../tests/support/logger.js';
import { killProcessesOfRun, markChildrenOfThisRun } from './support/cleanup.js';
import { describeError, LoadWatch, progress } from './support/machine.js';
import { renderTable } from './support/table.js';

const LINK_CONCURRENCY = 5;
const WARM_UP_MS = 3_000;
const RSS_EVERY_MS = 250;

interface Phase {
  name: string;
  cpuPercent: number;
  rssMeanMb: number;
  rssMaxMb: number;
  heapUsedMb: number;
  loops: Record<string, CronLoopStats> | null;
}

function options(): { instances: number; seconds: number } {
  const { values } = parseArgs({ options: { instances: { type: 'string', default: '50' }, seconds: { type: 'string', default: '20' } }, strict: true });
  const instances = Number(values.instances);
  const seconds = Number(values.seconds);
  if (!Number.isInteger(instances) || instances < 1) throw new Error(`--instances must be a whole number >= 1, got ${values.instances}`);
  if (!Number.isInteger(seconds) || seconds < 2) throw new Error(`--seconds must be a whole number >= 2, got ${values.seconds}`);
  return { instances, seconds };
}

/** The supervisor's (this process's) CPU share and RSS over `ms`, RSS read every RSS_EVERY_MS. */
async function measure(name: string, ms: number, checks: Checks | null): Promise<Phase> {
  const rss: number[] = [];
  const timer = setInterval(() => rss.push(process.memoryUsage().rss), RSS_EVERY_MS);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(ms);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  clearInterval(timer);
  const mb = (b: number) => b / 1024 ** 2;
  return {
    name,
    cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    rssMeanMb: mb(rss.reduce((a, b) => a + b, 0) / Math.max(1, rss.length)),
    rssMaxMb: mb(Math.max(...rss)),
    heapUsedMb: mb(process.memoryUsage().heapUsed),
    loops: checks ? (checks.stats().loops as unknown as Record<string, CronLoopStats>) : null,
  };
}

function report(phases: Phase[], instances: number, seconds: number): string {
  const table = renderTable(
    ['loops', 'supervisor CPU %', 'RSS mean MB', 'RSS max MB', 'heap used MB'],
    phases.map((p) => [p.name, p.cpuPercent.toFixed(1), p.rssMeanMb.toFixed(0), p.rssMaxMb.toFixed(0), p.heapUsedMb.toFixed(0)]),
  );
  const on = phases.find((p) => p.loops);
  const loopTable = on?.loops
    ? renderTable(
        ['loop (at 1 s)', 'ticks', 'skipped', 'errors', 'last tick ms'],
        Object.entries(on.loops).map(([name, s]) => [name, String(s.runs), String(s.skips), String(s.errors), String(s.lastDurationMs ?? '–')]),
      )
    : '';
  return `Check loops overhead: ${instances} stand-in instances, ${seconds} s per row\n\n${table}\n\n${loopTable}\n`;
}

async function main(): Promise<void> {
  const { instances, seconds } = options();
  const marker = markChildrenOfThisRun();
  const workDir = mkdtempSync(join(tmpdir(), 'wa-fleet-checks-overhead-'));
  const load = new LoadWatch();
  let db: TestDatabase | null = null;
  let fleet: Fleet | null = null;
  let checks: Checks | null = null;
  try {
    db = await createTestDatabase({ migrated: true });
    const config = testConfig(db.url, join(workDir, 'sessions'), { LOG_LEVEL: 'error' });
    fleet = new Fleet({ config, pool: db.pool, log: silentLogger, launch: standInLauncher });
    await fleet.start();
    const f = fleet;
    progress(`starting and linking ${instances} stand-in instances`);
    await pLimit(LINK_CONCURRENCY).map(
      Array.from({ length: instances }, (_, i) => `bench-${String(i).padStart(3, '0')}`),
      async (id) => {
        await f.create(id);
        await waitForStatus(f, id, 'QR_REQUIRED', 120_000);
        await f.simulate(id, 'scan');
        await waitForStatus(f, id, 'CONNECTED', 30_000);
      },
    );
    await sleep(WARM_UP_MS);
    const phases: Phase[] = [];
    progress('loops off');
    phases.push(await measure('off', seconds * 1000, null));

    checks = new Checks({
      fleet: f,
      log: silentLogger,
      settings: {
        ...checkSettings(config),
        healthIntervalMs: 1_000,
        healthStartDelayMs: 0,
        deepIntervalMs: 1_000,
        recoveryIntervalMs: 1_000,
        memoryIntervalMs: 1_000,
        memorySampleIntervalMs: 1_000,
      },
    });
    checks.start();
    await sleep(WARM_UP_MS);
    progress('every loop at 1 s');
    phases.push(await measure('all at 1 s', seconds * 1000, checks));
    await checks.stop();
    checks.close();
    checks = null;
    await sleep(WARM_UP_MS);
    progress('loops off again');
    phases.push(await measure('off (again)', seconds * 1000, null));

    process.stdout.write(report(phases, instances, seconds));
    process.stdout.write(`\n${load.summary()}\n`);
  } finally {
    await checks?.stop().catch(() => undefined);
    await fleet?.stop().catch((err: unknown) => progress(`fleet stop: ${describeError(err)}`));
    const survivors = await killProcessesOfRun(marker);
    if (survivors.length > 0) progress(`could not kill ${survivors.length} process(es)`);
    await db?.drop().catch((err: unknown) => progress(`could not drop the database: ${describeError(err)}`));
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  progress(`failed: ${describeError(err)}`);
  process.exitCode = 1;
});
