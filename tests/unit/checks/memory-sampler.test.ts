import { describe, expect, it } from 'vitest';
import type { MemoryUsage, TreeSample } from '../../../lib/proc-memory.js';
import { MemorySampler } from '../../../src/checks/memory-sampler.js';

const MB = 1024 * 1024;

/** A /proc where each pid has a fixed PSS (RSS twice that) and 7 is a browser tree of pids 7, 8. */
function fakeProc(pss: Record<number, number>) {
  const readMemory = (pid: number): MemoryUsage | null => (pss[pid] === undefined ? null : { pssBytes: pss[pid]! * MB, rssBytes: 2 * pss[pid]! * MB });
  const sampleTree = (pid: number): TreeSample => {
    const pids = [pid, pid + 1].filter((p) => pss[p] !== undefined);
    return { pids, pssBytes: pids.reduce((s, p) => s + pss[p]! * MB, 0), rssBytes: pids.reduce((s, p) => s + 2 * pss[p]! * MB, 0) };
  };
  return { readMemory, sampleTree, readMemoryAsync: async (pid: number) => readMemory(pid), sampleTreeAsync: async (pid: number) => sampleTree(pid) };
}

describe('MemorySampler', () => {
  it('reads the worker alone and the browser as a tree, and keeps their total PSS as the history', async () => {
    const pss: Record<number, number> = { 5: 40, 7: 100, 8: 60 };
    const sampler = new MemorySampler(60_000, fakeProc(pss));
    await sampler.sampleAll([{ id: 'a', workerPid: 5, browserPid: 7 }], 1_000);
    pss[8] = 80;
    await sampler.sampleAll([{ id: 'a', workerPid: 5, browserPid: 7 }], 2_000);
    expect(sampler.latest('a')).toMatchObject({ workerPssBytes: 40 * MB, workerRssBytes: 80 * MB, browserPssBytes: 180 * MB, browserRssBytes: 360 * MB });
    expect(sampler.history('a')).toEqual([
      { t: 1_000, v: 200 * MB },
      { t: 2_000, v: 220 * MB },
    ]);
    expect(sampler.supervisor?.rssBytes).toBeGreaterThan(0);
  });

  it('keeps only the window, starts a new history when the processes change, and drops instances that stopped', async () => {
    const sampler = new MemorySampler(10_000, fakeProc({ 5: 10, 6: 20, 9: 30 }));
    for (let t = 0; t <= 30_000; t += 5_000) await sampler.sampleAll([{ id: 'a', workerPid: 5, browserPid: null }, { id: 'b', workerPid: 9, browserPid: null }], t);
    expect(sampler.history('a').map((s) => s.t)).toEqual([20_000, 25_000, 30_000]);
    await sampler.sampleAll([{ id: 'a', workerPid: 6, browserPid: null }, { id: 'b', workerPid: null, browserPid: null }], 35_000);
    expect(sampler.history('a')).toEqual([{ t: 35_000, v: 20 * MB }]);
    expect(sampler.latest('b')).toBeNull();
  });

  it('records nothing for a worker that exited between two reads', async () => {
    const sampler = new MemorySampler(10_000, fakeProc({}));
    await sampler.sampleAll([{ id: 'a', workerPid: 5, browserPid: 7 }], 1_000);
    expect(sampler.latest('a')).toMatchObject({ workerPssBytes: null, browserPssBytes: null });
    expect(sampler.history('a')).toEqual([]);
  });

  it('reads the fleet through the thread-pool readers only, four instances at a time, every one of them', async () => {
    const inFlight = { now: 0, peak: 0 };
    const gates: Array<() => void> = [];
    const held = async <T>(value: T): Promise<T> => {
      inFlight.now++;
      inFlight.peak = Math.max(inFlight.peak, inFlight.now);
      await new Promise<void>((resolve) => gates.push(resolve));
      inFlight.now--;
      return value;
    };
    const sync = () => {
      throw new Error('a synchronous read in sampleAll');
    };
    const sampler = new MemorySampler(60_000, {
      readMemory: sync,
      sampleTree: sync,
      readMemoryAsync: (pid) => held({ pssBytes: pid * MB, rssBytes: 2 * pid * MB }),
      sampleTreeAsync: (pid) => held({ pids: [pid], pssBytes: pid * MB, rssBytes: 2 * pid * MB }),
    });
    const targets = Array.from({ length: 10 }, (_, i) => ({ id: `i${i}`, workerPid: 100 + i, browserPid: 200 + i }));
    const done = sampler.sampleAll(targets, 1_000);
    // Release the held reads one by one until the sample (with the supervisor's own read) is complete.
    let finished = false;
    const end = () => (finished = true);
    void done.then(end, end);
    while (!finished) {
      await new Promise((r) => setImmediate(r));
      gates.shift()?.();
    }
    await done;
    expect(inFlight.peak).toBe(4);
    for (const [i, t] of targets.entries()) {
      expect(sampler.latest(t.id)).toMatchObject({ workerPssBytes: (100 + i) * MB, browserPssBytes: (200 + i) * MB });
      expect(sampler.history(t.id)).toEqual([{ t: 1_000, v: (300 + 2 * i) * MB }]);
    }
  });

  it("keeps a start decision's newer reading taken while the fleet was being read, and drops a reading of processes replaced meanwhile", async () => {
    const pss: Record<number, number> = { 5: 40, 6: 50, 9: 30 };
    let release: () => void = () => {};
    const proc = fakeProc(pss);
    const sampler = new MemorySampler(60_000, {
      ...proc,
      // An instance's figures are read when asked and handed over when released; the supervisor's own at once.
      readMemoryAsync: async (pid) => {
        const usage = proc.readMemory(pid);
        if (pid !== process.pid) await new Promise<void>((resolve) => (release = resolve));
        return usage;
      },
    });
    const reading = sampler.sampleAll([{ id: 'a', workerPid: 5, browserPid: null }], 1_000);
    // While sampleAll's read of `a` is in flight, a start decision reads it afresh.
    pss[5] = 45;
    sampler.sampleOne({ id: 'a', workerPid: 5, browserPid: null }, 1_500, false);
    release();
    await reading;
    expect(sampler.latest('a')).toMatchObject({ at: 1_500, workerPssBytes: 45 * MB });
    expect(sampler.history('a')).toEqual([{ t: 1_000, v: 40 * MB }]);

    const again = sampler.sampleAll([{ id: 'a', workerPid: 5, browserPid: null }], 2_000);
    // Meanwhile `a` was restarted: its new worker 6 is read by a decision.
    sampler.sampleOne({ id: 'a', workerPid: 6, browserPid: null }, 2_500, false);
    release();
    await again;
    expect(sampler.latest('a')).toMatchObject({ at: 2_500, workerPid: 6, workerPssBytes: 50 * MB });
    expect(sampler.history('a')).toEqual([]);
  });
});
