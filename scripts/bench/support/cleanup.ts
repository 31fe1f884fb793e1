import { findProcessesWithEnv, type ProcessInfo } from '../../../tests/support/processes.js';
import { sleep } from '../../../lib/timeout.js';

/**
 * Every process the bench starts (workers, plain clients, their Chromium trees) inherits one
 * environment entry naming this run. Whatever goes wrong, killing the processes that carry it
 * leaves nothing behind, even a browser whose Node parent died before reporting its pid.
 */
export const MARKER_VAR = 'WA_FLEET_BENCH_RUN';

/** Puts the run's marker into this process's environment, for every child to inherit; returns `NAME=value`. */
export function markChildrenOfThisRun(): string {
  const value = `${process.pid}-${Date.now()}`;
  process.env[MARKER_VAR] = value;
  return `${MARKER_VAR}=${value}`;
}

/** The live processes carrying `marker` (this process excluded). */
export function processesOfRun(marker: string): ProcessInfo[] {
  return findProcessesWithEnv(marker);
}

/** SIGKILLs every process carrying `marker` until none is left or `graceMs` has passed; returns the survivors. */
export async function killProcessesOfRun(marker: string, graceMs = 5_000): Promise<ProcessInfo[]> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const alive = processesOfRun(marker);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    for (const { pid } of alive) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await sleep(200);
  }
}
