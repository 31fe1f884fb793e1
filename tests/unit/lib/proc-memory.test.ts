import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  childrenOf,
  createProcMemory,
  descendantsOf,
  pidsInProcessGroup,
  readMemory,
  readMemoryAsync,
  sampleTree,
  sampleTreeAsync,
} from '../../../lib/proc-memory.js';

/** Far above any pid_max, so never a live process. */
const NO_SUCH_PID = 999_999_999;

describe('against the real /proc', () => {
  let parent: ChildProcess | null = null;
  let sleepPid = 0;

  /** A node process in its own process group that spawns `sleep 30` and prints the sleep's pid. */
  async function startTree(): Promise<ChildProcess> {
    const script = `const c = require('node:child_process').spawn('sleep', ['30'], { stdio: 'ignore' });
      console.log(c.pid); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', script], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    parent = child;
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    sleepPid = Number(line);
    return child;
  }

  async function killTree(): Promise<void> {
    const child = parent;
    parent = null;
    if (!child?.pid) return;
    const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, 'exit');
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // The whole group is already gone.
    }
    await exited;
  }

  afterEach(killTree);

  it('reads positive PSS and RSS of a live process, PSS never above RSS', () => {
    const usage = readMemory(process.pid);
    expect(usage).not.toBeNull();
    expect(usage!.pssBytes).toBeGreaterThan(0);
    expect(usage!.rssBytes).toBeGreaterThan(0);
    expect(usage!.pssBytes).toBeLessThanOrEqual(usage!.rssBytes);
  });

  it('returns null for a process that does not exist', () => {
    expect(readMemory(NO_SUCH_PID)).toBeNull();
  });

  it('finds the child of a process and all descendants of the test process', async () => {
    const child = await startTree();
    expect(childrenOf(child.pid!)).toEqual([sleepPid]);
    expect(childrenOf(process.pid)).toContain(child.pid);
    const descendants = descendantsOf(process.pid);
    expect(descendants).toContain(child.pid);
    expect(descendants).toContain(sleepPid);
    expect(descendants.indexOf(child.pid!)).toBeLessThan(descendants.indexOf(sleepPid));
  });

  it('samples a tree as the sum of the root and its descendants', async () => {
    const child = await startTree();
    const sample = sampleTree(child.pid!);
    expect(sample.pids).toEqual([child.pid, sleepPid]);
    const root = readMemory(child.pid!)!;
    const leaf = readMemory(sleepPid)!;
    expect(sample.pssBytes).toBeGreaterThan(0);
    expect(sample.rssBytes).toBeGreaterThan(0);
    // Both processes are idle, so separate reads taken just after the sample stay close to it.
    expect(sample.rssBytes).toBeGreaterThan(Math.max(root.rssBytes, leaf.rssBytes));
    expect(sample.rssBytes).toBeCloseTo(root.rssBytes + leaf.rssBytes, -7);
  });

  it('reads the same tree through the thread pool, root first, and nothing of a process that does not exist', async () => {
    const child = await startTree();
    const sample = await sampleTreeAsync(child.pid!);
    expect(sample.pids).toEqual([child.pid, sleepPid]);
    // Both processes are idle: a synchronous sample just after lands within 10 MB of it.
    expect(sample.rssBytes).toBeCloseTo(sampleTree(child.pid!).rssBytes, -7);
    expect((await readMemoryAsync(child.pid!))!.pssBytes).toBeGreaterThan(0);
    expect(await readMemoryAsync(NO_SUCH_PID)).toBeNull();
    expect(await sampleTreeAsync(NO_SUCH_PID)).toEqual({ pids: [], pssBytes: 0, rssBytes: 0 });
  });

  it('lets the event loop turn while the thread pool reads: many trees read at once are not one long block', async () => {
    const child = await startTree();
    let turns = 0;
    let reading = true;
    const spin = () => {
      if (!reading) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const samples = await Promise.all(Array.from({ length: 40 }, () => sampleTreeAsync(child.pid!)));
    reading = false;
    expect(samples.every((s) => s.pids.length === 2)).toBe(true);
    // Read synchronously, the 40 trees would finish before a single turn of the loop.
    expect(turns).toBeGreaterThanOrEqual(20);
  });

  it('lists the live members of a process group', async () => {
    const child = await startTree();
    const byPid = (a: number, b: number) => a - b;
    expect(pidsInProcessGroup(child.pid!).sort(byPid)).toEqual([child.pid!, sleepPid].sort(byPid));
  });

  it('reports an empty tree and group once the processes are gone', async () => {
    const child = await startTree();
    const pid = child.pid!;
    await killTree();
    // The orphaned sleep is reaped by init on its own schedule; give it a bounded moment.
    for (let i = 0; i < 50 && pidsInProcessGroup(pid).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(pidsInProcessGroup(pid)).toEqual([]);
    expect(sampleTree(pid)).toEqual({ pids: [], pssBytes: 0, rssBytes: 0 });
    expect(childrenOf(pid)).toEqual([]);
    expect(descendantsOf(pid)).toEqual([]);
  });
});

describe('against a fake /proc', () => {
  let root = '';

  function put(path: string, content: string): void {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }

  function stat(pid: number, comm: string, state: string, ppid: number, pgrp: number): void {
    put(`${pid}/stat`, `${pid} (${comm}) ${state} ${ppid} ${pgrp} ${pgrp} 0 -1 4194560 0 0 0 0\n`);
  }

  function rollup(pid: number, rssKb: number, pssKb: number): void {
    put(`${pid}/smaps_rollup`, `00400000-7ffe0000 ---p 00000000 00:00 0 [rollup]\nRss:  ${rssKb} kB\nPss:  ${pssKb} kB\nPss_Anon:  1 kB\n`);
  }

  beforeAll(() => {
    root = mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? tmpdir(), 'fake-proc-'));
    // Stat-scan tree (no children files): 10 -> 11 -> 12 (zombie), 10 -> 13; 20 is unrelated.
    stat(10, 'chrome (main) ) S', 'S', 1, 10);
    stat(11, 'worker', 'S', 10, 10);
    stat(12, 'defunct', 'Z', 11, 10);
    stat(13, 'helper', 'R', 10, 10);
    stat(20, 'other', 'S', 1, 20);
    rollup(10, 1000, 400);
    rollup(11, 200, 100);
    put('12/smaps_rollup', '');
    rollup(13, 50, 25);
    put('self', 'not a process');
    // Children-file tree: 30 has two threads (30, 31); the child 40 hangs off the second one.
    put('30/task/30/children', '32 33 ');
    put('30/task/31/children', '40');
    put('32/task/32/children', '34');
    put('33/task/33/children', '');
    put('34/task/34/children', '');
    put('40/task/40/children', '');
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('parses Rss and Pss from smaps_rollup into bytes', () => {
    expect(createProcMemory(root).readMemory(10)).toEqual({ rssBytes: 1000 * 1024, pssBytes: 400 * 1024 });
  });

  it('returns null for a zombie (empty rollup) and for a missing process', () => {
    const proc = createProcMemory(root);
    expect(proc.readMemory(12)).toBeNull();
    expect(proc.readMemory(99)).toBeNull();
  });

  it('finds children by parent pid when there are no children files, despite a comm with ") " in it', () => {
    const proc = createProcMemory(root);
    expect(proc.childrenOf(10).sort()).toEqual([11, 13]);
    expect(proc.childrenOf(99)).toEqual([]);
  });

  it('walks all descendants breadth first', () => {
    expect(createProcMemory(root).descendantsOf(10)).toEqual([11, 13, 12]);
  });

  it('sums a tree, leaving out members without memory', () => {
    expect(createProcMemory(root).sampleTree(10)).toEqual({
      pids: [10, 11, 13],
      rssBytes: (1000 + 200 + 50) * 1024,
      pssBytes: (400 + 100 + 25) * 1024,
    });
  });

  it('lists a process group without its zombies', () => {
    const proc = createProcMemory(root);
    expect(proc.pidsInProcessGroup(10).sort()).toEqual([10, 11, 13]);
    expect(proc.pidsInProcessGroup(20)).toEqual([20]);
  });

  it('reads the children files of every thread when the kernel provides them', () => {
    const proc = createProcMemory(root);
    expect(proc.childrenOf(30).sort()).toEqual([32, 33, 40]);
    expect(proc.descendantsOf(30).sort()).toEqual([32, 33, 34, 40]);
  });

  it('reads through the thread pool what it reads synchronously: rollups, trees by children files and by parent pid', async () => {
    const proc = createProcMemory(root);
    for (const pid of [10, 12, 99]) expect(await proc.readMemoryAsync(pid)).toEqual(proc.readMemory(pid));
    rollup(30, 300, 150);
    rollup(33, 30, 15);
    rollup(40, 40, 20);
    for (const pid of [10, 30, 99]) expect(await proc.sampleTreeAsync(pid)).toEqual(proc.sampleTree(pid));
    expect(await proc.sampleTreeAsync(30)).toEqual({ pids: [30, 33, 40], rssBytes: (300 + 30 + 40) * 1024, pssBytes: (150 + 15 + 20) * 1024 });
  });
});
