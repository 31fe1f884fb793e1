import type { Reporter, TestModule } from 'vitest/node';
import { leftoverProcesses } from './orphans.js';

function count(testModules: ReadonlyArray<TestModule>) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const mod of testModules) {
    let seen = 0;
    for (const test of mod.children.allTests()) {
      seen += 1;
      const state = test.result().state;
      if (state === 'passed') passed += 1;
      else if (state === 'failed') failed += 1;
      else skipped += 1;
    }
    // A file that fails to load has no tests but must still fail the run.
    if (seen === 0 && mod.state() === 'failed') failed += 1;
  }
  return { passed, failed, skipped };
}

/**
 * Closes the run with one line CI reads, `N passed, N failed`. Before printing it, checks that
 * no process started by the run is still alive: any found are listed, killed, and counted as one
 * failure, so a leak of Chromium or workers fails the suite.
 */
export default class SummaryReporter implements Reporter {
  async onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): Promise<void> {
    const { passed, skipped } = count(testModules);
    let { failed } = count(testModules);
    failed += unhandledErrors.length;
    const leftovers = await leftoverProcesses();
    if (leftovers.length > 0) {
      failed += 1;
      process.exitCode = 1;
      process.stdout.write('\nFAIL no-orphans: processes started by the test run were still running (killed now):\n');
      for (const p of leftovers) {
        process.stdout.write(`  ${p.pid} ${p.cmdline.slice(0, 200)}\n`);
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    const tail = skipped > 0 ? `, ${skipped} skipped` : '';
    process.stdout.write(`\n${passed} passed, ${failed} failed${tail}\n`);
  }
}
