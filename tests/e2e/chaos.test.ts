import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/timeout.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { startChild, type RunningChild } from '../support/child.js';

/**
 * The CI-sized chaos run: the real `npm run chaos` (the built supervisor in demo mode, its own
 * MariaDB, real workers and Chromium) with 3 instances and 15 seeded faults of every kind. The
 * receiver outage and the gaps are shortened to fit the suite; everything else is the full run's.
 */
const ARGS = ['--instances', '3', '--faults', '15', '--seed', '7', '--gap-s', '1,3', '--webhook-outage-s', '20', '--mysql-down-s', '10,20'];
const RUN_BOUND_MS = 10 * 60_000;

let chaos: RunningChild | undefined;
const out = mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? '/tmp', 'chaos-'));

afterAll(async () => {
  if (!chaos || chaos.proc.exitCode !== null || chaos.proc.signalCode !== null) return;
  // The run stops after its current fault on SIGINT and cleans up; past that, kill it outright.
  chaos.proc.kill('SIGINT');
  await Promise.race([chaos.exited, sleep(150_000)]);
  chaos.kill();
}, 180_000);

describe('chaos', () => {
  it('15 seeded faults of every kind leave every invariant holding (exit 0, no violation in the report)', { timeout: RUN_BOUND_MS + 60_000 }, async () => {
    chaos = startChild(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'scripts/chaos.ts'), ...ARGS, '--out', out], { cwd: PACKAGE_ROOT, env: process.env });
    const code = await Promise.race([chaos.exited, sleep(RUN_BOUND_MS).then(() => 'timeout' as const)]);
    const output = chaos.output();
    expect(code, output).toBe(0);
    const reportFile = join(out, 'report.json');
    expect(existsSync(reportFile), output).toBe(true);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { faults: Array<{ violations: string[] }>; finalViolations: string[]; violations: number };
    expect(report.faults).toHaveLength(15);
    expect(report.faults.flatMap((f) => f.violations)).toEqual([]);
    expect(report.finalViolations).toEqual([]);
    expect(report.violations).toBe(0);
  });
});
