import { describe, expect, it } from 'vitest';
import { duplicateBrowsers, processViolations, type FleetProcesses } from '../../../scripts/chaos/processes.js';

const P = '/s/session-a';
const found = (chromium: FleetProcesses['chromium']): FleetProcesses => ({ workers: [], chromium });

describe('the chaos run’s process checks', () => {
  it('calls two browsers on one profile two trees', () => {
    const two = found([
      { pid: 10, ppid: 1, profile: P, browser: true },
      { pid: 20, ppid: 2, profile: P, browser: true },
    ]);
    expect(duplicateBrowsers(two)).toEqual([`2 Chromium trees on ${P} (10, 20)`]);
  });

  it("does not call a browser's child caught between fork and exec a second tree", () => {
    const forking = found([
      { pid: 10, ppid: 1, profile: P, browser: true },
      { pid: 25, ppid: 10, profile: P, browser: true },
      { pid: 26, ppid: 10, profile: P, browser: false },
    ]);
    expect(duplicateBrowsers(forking)).toEqual([]);
    expect(processViolations(forking, [{ id: 'a', worker: { pid: 5, browserPid: 10, uptimeMs: 1 } } as never])).toEqual([]);
  });

  it('still sees a browser no live instance owns, and a helper that outlived its browser', () => {
    const stray = found([
      { pid: 10, ppid: 1, profile: P, browser: true },
      { pid: 30, ppid: 1, profile: '/s/session-b', browser: false },
    ]);
    expect(processViolations(stray, [])).toEqual([`Chromium 10 on ${P} belongs to no live instance`, 'Chromium helper 30 on /s/session-b outlived its browser']);
  });

  it('takes a worker the supervisor names as its spare for no orphan, and any other worker no instance lists for one', () => {
    const workers: FleetProcesses = { workers: [5, 7, 9], chromium: [] };
    const instances = [{ id: 'a', worker: { pid: 5, browserPid: null, uptimeMs: 1 } } as never];
    expect(processViolations(workers, instances, [7])).toEqual(['worker 9 belongs to no live instance']);
    // With the supervisor down nothing may run, its spare included.
    expect(processViolations({ workers: [7], chromium: [] }, null, [7])).toEqual(['worker 7 belongs to no live instance']);
  });
});
