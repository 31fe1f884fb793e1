import { readFileSync } from 'node:fs';
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
  chromium: Array<{ pid: number; ppid: number | null; profile: string; browser: boolean }>;
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
      ppid: parentOf(p.pid),
      profile: resolve(p.argv.find((a) => a.startsWith(USER_DATA_DIR))!.slice(USER_DATA_DIR.length)),
      browser: !p.argv.some((a) => a.startsWith('--type=')),
    }),
  );
  return { workers, chromium };
}

/** The parent pid from /proc/<pid>/stat, or null when the process is gone. */
function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** A process this young is not judged yet (see browserRoots). */
const MIN_AGE_MS = 1_000;

/** True when /proc says the process started less than `ms` ago; false when it cannot tell (gone, or not a real pid). */
function youngerThan(pid: number, ms: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const uptimeS = Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
    return (uptimeS - startTicks / 100) * 1000 < ms;
  } catch {
    return false;
  }
}

/**
 * The root of each Chromium tree, by profile. A browser-looking process (no `--type=`) whose parent
 * is another Chromium process on the same profile is that browser's child caught between fork and
 * exec (with --no-zygote the browser starts its helpers so), not a tree of its own.
 */
function browserRoots(found: FleetProcesses): Map<string, number[]> {
  const pidsOn = new Map<string, Set<number>>();
  for (const c of found.chromium) pidsOn.set(c.profile, (pidsOn.get(c.profile) ?? new Set()).add(c.pid));
  const roots = new Map<string, number[]>();
  for (const c of found.chromium) {
    if (!c.browser || (c.ppid !== null && pidsOn.get(c.profile)!.has(c.ppid))) continue;
    // Chromium double-forks its crash handler: until its exec the grandchild looks like a browser and
    // its parent (the first fork) may be gone already. A second tree lives on: the next scan counts it.
    if (youngerThan(c.pid, MIN_AGE_MS)) continue;
    roots.set(c.profile, [...(roots.get(c.profile) ?? []), c.pid]);
  }
  return roots;
}

/** Profiles with more than one Chromium tree: two browsers on one session, even for a moment, corrupt it. */
export function duplicateBrowsers(found: FleetProcesses): string[] {
  return [...browserRoots(found)].filter(([, pids]) => pids.length > 1).map(([profile, pids]) => `${pids.length} Chromium trees on ${profile} (${pids.join(', ')})`);
}

/**
 * The process invariants: never two Chromium trees on one profile, and nothing running that no
 * live instance owns (a worker the supervisor does not list, a browser that is no instance's, a
 * helper whose browser is gone). `instances` is the supervisor's own view (null: it is down, so
 * nothing may run at all); `spares` the workers it names as its spare (WORKER_SPARE), which hold
 * no instance and no browser (a browser on a profile is still judged by the instances).
 */
export function processViolations(found: FleetProcesses, instances: InstanceSummary[] | null, spares: readonly number[] = []): string[] {
  const violations: string[] = [];
  const liveWorkers = new Set([...(instances ?? []).flatMap((i) => (i.worker ? [i.worker.pid] : [])), ...(instances ? spares : [])]);
  const liveBrowsers = new Set((instances ?? []).flatMap((i) => (i.worker?.browserPid ? [i.worker.browserPid] : [])));
  for (const pid of found.workers) if (!liveWorkers.has(pid)) violations.push(`worker ${pid} belongs to no live instance`);
  const browsersByProfile = browserRoots(found);
  violations.push(...duplicateBrowsers(found));
  for (const [profile, pids] of browsersByProfile) {
    for (const pid of pids) if (!liveBrowsers.has(pid)) violations.push(`Chromium ${pid} on ${profile} belongs to no live instance`);
  }
  for (const c of found.chromium.filter((c) => !c.browser && !browsersByProfile.has(c.profile))) {
    violations.push(`Chromium helper ${c.pid} on ${c.profile} outlived its browser`);
  }
  return violations;
}
