import { readdirSync, readFileSync } from 'node:fs';
import { processesMatching } from '../../lib/proc-cmdline.js';
import { profileDir } from '../../src/worker/session-path.js';

export interface ProcessInfo {
  pid: number;
  cmdline: string;
}

function readProc(pid: string, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1');
  } catch {
    return null;
  }
}

/** Live (non-zombie) processes whose environment holds `entry` (e.g. `WA_FLEET_TEST_RUN=…`). */
export function findProcessesWithEnv(entry: string): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const environ = readProc(name, 'environ');
    if (!environ || !environ.split('\0').includes(entry)) continue;
    const stat = readProc(name, 'stat');
    if (stat && /\) Z /.test(stat)) continue;
    found.push({ pid: Number(name), cmdline: (readProc(name, 'cmdline') ?? '').replace(/\0/g, ' ').trim() });
  }
  return found;
}

/** Live processes whose command line contains `needle`. */
export function findProcessesWithArg(needle: string): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const cmdline = (readProc(name, 'cmdline') ?? '').replace(/\0/g, ' ');
    if (!cmdline.includes(needle)) continue;
    const stat = readProc(name, 'stat');
    if (stat && /\) Z /.test(stat)) continue;
    found.push({ pid: Number(name), cmdline: cmdline.trim() });
  }
  return found;
}

/** Whether a process with this pid exists (signal 0 sends nothing). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of the Chromium processes running on an instance's profile. */
export function chromiumOnProfile(sessionRoot: string, instanceId: string): number[] {
  const arg = `--user-data-dir=${profileDir(sessionRoot, instanceId)}`;
  return processesMatching((argv) => argv.includes(arg)).map((p) => p.pid);
}

/** Command lines still naming `needle` after up to 5 s of waiting for them to go (empty once all are gone). */
export async function processesLeftWithArg(needle: string): Promise<string[]> {
  let left = findProcessesWithArg(needle);
  for (let i = 0; i < 20 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 250));
    left = findProcessesWithArg(needle);
  }
  return left.map((p) => p.cmdline);
}
