import { resolve, sep } from 'node:path';
import { processesMatching } from '../../lib/proc-cmdline.js';
import { findProcessesWithEnv } from '../../tests/support/processes.js';
import type { InstanceSummary } from '../support/api-client.js';

const USER_DATA_DIR = '--user-data-dir=';
const WORKER_ENTRY_SUFFIX = `${sep}worker${sep}main.js`;
const SHELL = /(^|\/)(ba|da)?sh$/;

export interface FleetProcesses {
  /** Worker processes of this run (they carry its marker), by pid. */
  workers: number[];
  /** Chromium processes on a profile under the run's session root: browser (no --type) or helper. */
  chromium: Array<{ pid: number; profile: string; browser: boolean }>;
}

/** What actually runs on the machine for this run, read from /proc. */
export function fleetProcesses(marker: string, sessionRoot: string): FleetProcesses {
  const root = resolve(sessionRoot) + sep;
  const workers = findProcessesWithEnv(marker)
    .filter((p) => p.cmdline.split(' ').some((a) => a.endsWith(WORKER_ENTRY_SUFFIX)))
    .map((p) => p.pid);
  // Debian's /usr/bin/chromium is a shell script whose `$(…)` subshells carry all of Chromium's
  // arguments for a moment: a shell is no browser.
  const chromium = processesMatching(
    (argv) => !SHELL.test(argv[0] ?? '') && argv.some((a) => a.startsWith(USER_DATA_DIR) && resolve(a.slice(USER_DATA_DIR.length)).startsWith(root)),
  ).map(
    (p) => ({
      pid: p.pid,
      profile: resolve(p.argv.find((a) => a.startsWith(USER_DATA_DIR))!.slice(USER_DATA_DIR.length)),
      browser: !p.argv.some((a) => a.startsWith('--type=')),
    }),
  );
  return { workers, chromium };
}

/** Profiles with more than one Chromium browser process: two browsers on one session, even for a moment, corrupt it. */
export function duplicateBrowsers(found: FleetProcesses): string[] {
  const byProfile = new Map<string, number[]>();
  for (const c of found.chromium.filter((c) => c.browser)) byProfile.set(c.profile, [...(byProfile.get(c.profile) ?? []), c.pid]);
  return [...byProfile].filter(([, pids]) => pids.length > 1).map(([profile, pids]) => `${pids.length} Chromium trees on ${profile} (${pids.join(', ')})`);
}

/**
 * The process invariants: never two Chromium trees on one profile, and nothing running that no
 * live instance owns (a worker the supervisor does not list, a browser that is no instance's, a
 * helper whose browser is gone). `instances` is the supervisor's own view (null: it is down, so
 * nothing may run at all).
 */
export function processViolations(found: FleetProcesses, instances: InstanceSummary[] | null): string[] {
  const violations: string[] = [];
  const liveWorkers = new Set((instances ?? []).flatMap((i) => (i.worker ? [i.worker.pid] : [])));
  const liveBrowsers = new Set((instances ?? []).flatMap((i) => (i.worker?.browserPid ? [i.worker.browserPid] : [])));
  for (const pid of found.workers) if (!liveWorkers.has(pid)) violations.push(`worker ${pid} belongs to no live instance`);
  const browsersByProfile = new Map<string, number[]>();
  for (const c of found.chromium.filter((c) => c.browser)) browsersByProfile.set(c.profile, [...(browsersByProfile.get(c.profile) ?? []), c.pid]);
  violations.push(...duplicateBrowsers(found));
  for (const [profile, pids] of browsersByProfile) {
    for (const pid of pids) if (!liveBrowsers.has(pid)) violations.push(`Chromium ${pid} on ${profile} belongs to no live instance`);
  }
  for (const c of found.chromium.filter((c) => !c.browser && !browsersByProfile.has(c.profile))) {
    violations.push(`Chromium helper ${c.pid} on ${c.profile} outlived its browser`);
  }
  return violations;
}
