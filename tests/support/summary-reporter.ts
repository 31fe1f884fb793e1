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

/** The ten files that took longest: the suite must stay under 20 minutes on 2 cores, and this says where it goes. */
function slowest(testModules: ReadonlyArray<TestModule>): string {
  const files = testModules
    .map((mod) => ({ file: mod.moduleId.replace(`${process.cwd()}/`, ''), ms: mod.diagnostic().duration }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 10);
  if (files.length < 2) return '';
  return `\nslowest files:\n${files.map((f) => `  ${(f.ms / 1000).toFixed(1).padStart(6)} s  ${f.file}`).join('\n')}\n`;
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
    process.stdout.write(slowest(testModules));
    const tail = skipped > 0 ? `, ${skipped} skipped` : '';
    process.stdout.write(`\n${passed} passed, ${failed} failed${tail}\n`);
  }
}
