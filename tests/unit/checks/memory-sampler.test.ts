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
  return { readMemory, sampleTree };
}

describe('MemorySampler', () => {
  it('reads the worker alone and the browser as a tree, and keeps their total PSS as the history', () => {
    const pss: Record<number, number> = { 5: 40, 7: 100, 8: 60 };
    const sampler = new MemorySampler(60_000, fakeProc(pss));
    sampler.sampleAll([{ id: 'a', workerPid: 5, browserPid: 7 }], 1_000);
    pss[8] = 80;
    sampler.sampleAll([{ id: 'a', workerPid: 5, browserPid: 7 }], 2_000);
    expect(sampler.latest('a')).toMatchObject({ workerPssBytes: 40 * MB, workerRssBytes: 80 * MB, browserPssBytes: 180 * MB, browserRssBytes: 360 * MB });
    expect(sampler.history('a')).toEqual([
      { t: 1_000, v: 200 * MB },
      { t: 2_000, v: 220 * MB },
    ]);
    expect(sampler.supervisor?.rssBytes).toBeGreaterThan(0);
  });

  it('keeps only the window, starts a new history when the processes change, and drops instances that stopped', () => {
    const sampler = new MemorySampler(10_000, fakeProc({ 5: 10, 6: 20, 9: 30 }));
    for (let t = 0; t <= 30_000; t += 5_000) sampler.sampleAll([{ id: 'a', workerPid: 5, browserPid: null }, { id: 'b', workerPid: 9, browserPid: null }], t);
    expect(sampler.history('a').map((s) => s.t)).toEqual([20_000, 25_000, 30_000]);
    sampler.sampleAll([{ id: 'a', workerPid: 6, browserPid: null }, { id: 'b', workerPid: null, browserPid: null }], 35_000);
    expect(sampler.history('a')).toEqual([{ t: 35_000, v: 20 * MB }]);
    expect(sampler.latest('b')).toBeNull();
  });

  it('records nothing for a worker that exited between two reads', () => {
    const sampler = new MemorySampler(10_000, fakeProc({}));
    sampler.sampleAll([{ id: 'a', workerPid: 5, browserPid: 7 }], 1_000);
    expect(sampler.latest('a')).toMatchObject({ workerPssBytes: null, browserPssBytes: null });
    expect(sampler.history('a')).toEqual([]);
  });
});
