import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

/**
 * Memory and process-tree facts read straight from /proc. Nothing here spawns `ps`: a watchdog
 * sampling dozens of trees every few seconds cannot afford a fork per sample, and must keep
 * working when the machine is too short of memory to fork at all.
 */

export interface MemoryUsage {
  /** Proportional set size: shared pages divided among their sharers, so a tree's PSS adds up honestly. */
  pssBytes: number;
  rssBytes: number;
}

export interface TreeSample extends MemoryUsage {
  /** The processes that were measured: the root first, then its descendants still alive. */
  pids: number[];
}

interface StatFields {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
}

/** Reads a file, or null when it is gone or unreadable: processes exit between any two reads. */
function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

/** readOrNull through libuv's thread pool: the kernel's work for the file is not done on the event loop. */
async function readOrNullAsync(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'latin1');
  } catch {
    return null;
  }
}

/**
 * `pid (comm) state ppid pgrp ...`; comm may itself contain spaces and parentheses, so the fields
 * are taken after the LAST ')'.
 */
function parseStat(text: string): StatFields | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const pid = Number.parseInt(text, 10);
  const [state, ppid, pgrp] = text.slice(close + 2).split(' ');
  if (!Number.isInteger(pid) || state === undefined || ppid === undefined || pgrp === undefined) return null;
  return { pid, state, ppid: Number(ppid), pgrp: Number(pgrp) };
}

function kbField(text: string, name: string): number | null {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
  return match ? Number(match[1]) * 1024 : null;
}

/** PSS and RSS from a smaps_rollup; null for the empty rollup of a zombie or kernel thread (no memory to report). */
function parseRollup(text: string | null): MemoryUsage | null {
  if (text === null) return null;
  const pssBytes = kbField(text, 'Pss');
  const rssBytes = kbField(text, 'Rss');
  return pssBytes === null || rssBytes === null ? null : { pssBytes, rssBytes };
}

/** The pids of a `children` file (space separated). */
function parseChildren(text: string | null, into: Set<number>): void {
  for (const child of (text ?? '').trim().split(/\s+/)) if (child !== '') into.add(Number(child));
}

/** Root first, then the rest; processes without memory (gone, zombies) are left out, not counted as 0. */
function sumTree(pids: readonly number[], usages: ReadonlyArray<MemoryUsage | null>): TreeSample {
  const sample: TreeSample = { pids: [], pssBytes: 0, rssBytes: 0 };
  pids.forEach((pid, i) => {
    const usage = usages[i];
    if (!usage) return;
    sample.pids.push(pid);
    sample.pssBytes += usage.pssBytes;
    sample.rssBytes += usage.rssBytes;
  });
  return sample;
}

export interface ProcMemory {
  /** PSS and RSS of one process, or null when it is gone (or a zombie, or not ours to read). */
  readMemory(pid: number): MemoryUsage | null;
  childrenOf(pid: number): number[];
  /** Children, grandchildren, ... breadth first; the pid itself is not included. */
  descendantsOf(pid: number): number[];
  /** Root plus all descendants, summed. Processes that exit mid-sample are left out, not counted as 0. */
  sampleTree(rootPid: number): TreeSample;
  /** Live members of a process group; zombies are left out because they hold no memory and cannot be killed. */
  pidsInProcessGroup(pgid: number): number[];
  /**
   * readMemory and sampleTree with every file read in libuv's thread pool. A smaps_rollup walks
   * all mappings of its process (about 3 ms on a loaded machine), so reading a whole fleet's
   * trees at once this way keeps the event loop answering instead of holding it for the sum.
   */
  readMemoryAsync(pid: number): Promise<MemoryUsage | null>;
  sampleTreeAsync(rootPid: number): Promise<TreeSample>;
}

/** `root` is injectable so tests can lay out a fake /proc; production uses the module-level functions below. */
export function createProcMemory(root = '/proc'): ProcMemory {
  function allStats(): StatFields[] {
    const stats: StatFields[] = [];
    for (const name of readdirSync(root)) {
      if (!/^\d+$/.test(name)) continue;
      const text = readOrNull(`${root}/${name}/stat`);
      const stat = text === null ? null : parseStat(text);
      if (stat) stats.push(stat);
    }
    return stats;
  }

  // CONFIG_PROC_CHILDREN kernels list each thread's children directly; the main thread's tid is the pid.
  function hasChildrenFiles(pid: number): boolean {
    return existsSync(`${root}/${pid}/task/${pid}/children`);
  }

  function threadsOf(pid: number): string[] {
    try {
      return readdirSync(`${root}/${pid}/task`);
    } catch {
      return [];
    }
  }

  // Children attach to the thread that forked them, so every thread's list is read.
  function childrenFromTaskFiles(pid: number): number[] {
    const children = new Set<number>();
    for (const tid of threadsOf(pid)) parseChildren(readOrNull(`${root}/${pid}/task/${tid}/children`), children);
    return [...children];
  }

  async function childrenFromTaskFilesAsync(pid: number): Promise<number[]> {
    const children = new Set<number>();
    const tids = await readdir(`${root}/${pid}/task`).catch(() => []);
    const texts = await Promise.all(tids.map((tid) => readOrNullAsync(`${root}/${pid}/task/${tid}/children`)));
    for (const text of texts) parseChildren(text, children);
    return [...children];
  }

  function childrenByPpid(): Map<number, number[]> {
    const byParent = new Map<number, number[]>();
    for (const stat of allStats()) {
      const siblings = byParent.get(stat.ppid) ?? [];
      siblings.push(stat.pid);
      byParent.set(stat.ppid, siblings);
    }
    return byParent;
  }

  function childrenOf(pid: number): number[] {
    if (hasChildrenFiles(pid)) return childrenFromTaskFiles(pid);
    return childrenByPpid().get(pid) ?? [];
  }

  function descendantsOf(pid: number): number[] {
    // Without children files, one scan of /proc serves the whole walk instead of one per level.
    const byParent = hasChildrenFiles(pid) ? null : childrenByPpid();
    const found: number[] = [];
    // A pid recycled during the walk could point back up the tree; `seen` keeps the walk finite.
    const seen = new Set<number>([pid]);
    const queue = [pid];
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const children = byParent ? (byParent.get(next) ?? []) : childrenFromTaskFiles(next);
      for (const child of children) {
        if (seen.has(child)) continue;
        seen.add(child);
        found.push(child);
        queue.push(child);
      }
    }
    return found;
  }

  async function descendantsOfAsync(pid: number): Promise<number[]> {
    // Kernels without children files (rare) fall back to the one synchronous scan of /proc.
    if (!hasChildrenFiles(pid)) return descendantsOf(pid);
    // Breadth first, a level at a time, in the order descendantsOf gives.
    const found: number[] = [];
    const seen = new Set<number>([pid]);
    for (let level = [pid]; level.length > 0; ) {
      const next: number[] = [];
      for (const children of await Promise.all(level.map(childrenFromTaskFilesAsync))) {
        for (const child of children) {
          if (seen.has(child)) continue;
          seen.add(child);
          found.push(child);
          next.push(child);
        }
      }
      level = next;
    }
    return found;
  }

  function readMemory(pid: number): MemoryUsage | null {
    return parseRollup(readOrNull(`${root}/${pid}/smaps_rollup`));
  }

  async function readMemoryAsync(pid: number): Promise<MemoryUsage | null> {
    return parseRollup(await readOrNullAsync(`${root}/${pid}/smaps_rollup`));
  }

  function sampleTree(rootPid: number): TreeSample {
    const pids = [rootPid, ...descendantsOf(rootPid)];
    return sumTree(pids, pids.map(readMemory));
  }

  async function sampleTreeAsync(rootPid: number): Promise<TreeSample> {
    const pids = [rootPid, ...(await descendantsOfAsync(rootPid))];
    return sumTree(pids, await Promise.all(pids.map(readMemoryAsync)));
  }

  function pidsInProcessGroup(pgid: number): number[] {
    return allStats()
      .filter((stat) => stat.pgrp === pgid && stat.state !== 'Z')
      .map((stat) => stat.pid);
  }

  return { readMemory, childrenOf, descendantsOf, sampleTree, pidsInProcessGroup, readMemoryAsync, sampleTreeAsync };
}

export const { readMemory, childrenOf, descendantsOf, sampleTree, pidsInProcessGroup, readMemoryAsync, sampleTreeAsync } = createProcMemory();
