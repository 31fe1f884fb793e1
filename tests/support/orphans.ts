import { findProcessesWithEnv, type ProcessInfo } from './processes.js';

// vitest's own pool workers carry the marker too; they are not ours to judge.
const isVitestWorker = (p: ProcessInfo) => /^node \(vitest|vitest\/dist/.test(p.cmdline);

/**
 * Processes started by this test run that are still alive. Chromium children can take a moment to
 * notice their parent is gone, so this waits up to `graceMs` for them before answering.
 */
export async function leftoverProcesses(graceMs = 5_000): Promise<ProcessInfo[]> {
  const marker = process.env.WA_FLEET_TEST_RUN;
  if (!marker) return [];
  const deadline = Date.now() + graceMs;
  for (;;) {
    const found = findProcessesWithEnv(`WA_FLEET_TEST_RUN=${marker}`).filter((p) => !isVitestWorker(p));
    if (found.length === 0 || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 250));
  }
}
