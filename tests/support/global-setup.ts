import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Marks every process the suite starts (workers, Chromium, fixtures and MariaDB inherit the
 * environment) with WA_FLEET_TEST_RUN, so the summary reporter can fail the run if any of them
 * outlives the tests; gives the run a scratch folder. Workers of a root suite run as WORKER_USER,
 * so the scratch folder lets others pass through it (not list it) to the session roots inside.
 */
export default function setup(): () => void {
  const runDir = mkdtempSync(join(tmpdir(), 'wa-fleet-test-'));
  chmodSync(runDir, 0o711);
  process.env.WA_FLEET_TEST_RUN = `${process.pid}-${Date.now()}`;
  process.env.WA_FLEET_TEST_DIR = runDir;
  return () => rmSync(runDir, { recursive: true, force: true });
}
