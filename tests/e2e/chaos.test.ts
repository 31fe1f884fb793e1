import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sleep } from '../../lib/timeout.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { startChild, type RunningChild } from '../support/child.js';

/**
 * The CI-sized chaos run: the real `npm run chaos` (the built supervisor in demo mode, its own
 * MariaDB, real workers and Chromium) with 3 instances and 15 seeded faults of every kind, and the
 * message stream (sends and inbound messages on every instance throughout, hung sends before some
 * kills) judged at the end against the fake page's record and the webhook receiver. The receiver
 * outage and the gaps are shortened to fit the suite; everything else is the full run's.
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
  it('15 seeded faults of every kind, with messages sent and received throughout, leave every invariant holding (exit 0, no violation in the report)', { timeout: RUN_BOUND_MS + 60_000 }, async () => {
    chaos = startChild(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'scripts/chaos.ts'), ...ARGS, '--out', out], { cwd: PACKAGE_ROOT, env: process.env });
    const code = await Promise.race([chaos.exited, sleep(RUN_BOUND_MS).then(() => 'timeout' as const)]);
    const output = chaos.output();
    expect(code, output).toBe(0);
    const reportFile = join(out, 'report.json');
    expect(existsSync(reportFile), output).toBe(true);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as {
      faults: Array<{ violations: string[] }>;
      finalViolations: string[];
      violations: number;
      messages: { sends: { accepted: number; onPage: number }; inbound: { accepted: number; received: number }; crashPoints: { armed: number } } | null;
    };
    expect(report.faults).toHaveLength(15);
    // Both message invariants judged something (the run fails on its own when they did not; this says which).
    expect(report.messages?.sends.accepted, output).toBeGreaterThan(0);
    expect(report.messages?.sends.onPage, output).toBeGreaterThan(0);
    expect(report.messages?.inbound.accepted, output).toBeGreaterThan(0);
    expect(report.messages?.inbound.received, output).toBe(report.messages?.inbound.accepted);
    // The run's first worker or supervisor SIGKILL is preceded by a hung send: a crash point was exercised.
    expect(report.messages?.crashPoints.armed, output).toBeGreaterThan(0);
    expect(report.faults.flatMap((f) => f.violations)).toEqual([]);
    expect(report.finalViolations).toEqual([]);
    expect(report.violations).toBe(0);
  });
});
