import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readMemory } from '../../../lib/proc-memory.js';
import { processesOfRun } from './cleanup.js';

/**
 * The scale bench's processes as /proc shows them: every process carrying the run's marker
 * (cleanup.ts), wherever it hangs, rather than the supervisor's tree. Chromium's crashpad
 * handlers leave the tree for init as soon as they start, and so does every worker and browser of
 * a supervisor killed with SIGKILL while they wind down: all of them hold memory and use CPU that
 * the fleet caused.
 */

/** Clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** A process by pid and start time: a pid may be reused within a run, the pair is not. */
export type ProcessKey = `${number}@${number}`;

export interface RunProcess {
  key: ProcessKey;
  pid: number;
  /** User + system CPU of all its threads so far, in seconds. */
  cpuSeconds: number;
  cmdline: string;
}

/** Start time and CPU of a live process; null when it is gone or a zombie. */
function statOf(pid: number): { key: ProcessKey; cpuSeconds: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // Fields after the command name, which may itself hold spaces and parentheses: state is field 3
  // of proc(5), so utime (14), stime (15) and starttime (22) sit at 11, 12 and 19 here.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [utime, stime, start] = [fields[11], fields[12], fields[19]].map(Number);
  if (fields[0] === 'Z' || utime === undefined || stime === undefined || start === undefined || [utime, stime, start].some(Number.isNaN)) return null;
  return { key: `${pid}@${start}`, cpuSeconds: (utime + stime) / CLOCK_TICKS };
}

/** The run's live processes now. */
export function runProcesses(marker: string): RunProcess[] {
  return processesOfRun(marker).flatMap(({ pid, cmdline }) => {
    const stat = statOf(pid);
    return stat ? [{ ...stat, pid, cmdline }] : [];
  });
}

export interface CpuUse {
  seconds: number;
  /** Processes that ended between the two readings: their CPU since the first one is missing. */
  ended: number;
  /** Processes that started between them: all their CPU counts. */
  started: number;
}

/** CPU spent between two readings of the same processes (or of a subset, e.g. the supervisor alone). */
export function cpuBetween(before: readonly RunProcess[], after: readonly RunProcess[]): CpuUse {
  const earlier = new Map(before.map((p) => [p.key, p.cpuSeconds]));
  const later = new Set(after.map((p) => p.key));
  return {
    seconds: after.reduce((sum, p) => sum + p.cpuSeconds - (earlier.get(p.key) ?? 0), 0),
    ended: before.filter((p) => !later.has(p.key)).length,
    started: after.filter((p) => !earlier.has(p.key)).length,
  };
}

/** Those of `processes` that still run (same pid, same start time). */
export function stillRunning(processes: readonly RunProcess[]): RunProcess[] {
  return processes.filter((p) => statOf(p.pid)?.key === p.key);
}

export interface RunMemory {
  /** PSS of every process of the run, summed. */
  totalBytes: number;
  /** PSS of the supervisor alone (0 when it is not running). */
  supervisorBytes: number;
  processes: number;
}

export function runMemory(marker: string, supervisorPid: number | null): RunMemory {
  let totalBytes = 0;
  let supervisorBytes = 0;
  let processes = 0;
  for (const { pid } of processesOfRun(marker)) {
    const pss = readMemory(pid)?.pssBytes;
    if (pss === undefined) continue;
    totalBytes += pss;
    processes++;
    if (pid === supervisorPid) supervisorBytes = pss;
  }
  return { totalBytes, supervisorBytes, processes };
}
