/**
 * What held the server's event loop back during a measured load, beyond its own work: garbage
 * collection pauses (perf_hooks `gc` entries) and the time its main thread was ready to run but
 * waited for a core (/proc/self/schedstat, second field: nanoseconds spent on a run queue). A p99
 * that moves with either is the machine's or the heap's, not the route's.
 */
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';

export interface ServerPauses {
  gc: { count: number; totalMs: number; maxMs: number };
  /** Main thread's run-queue wait over the load, in ms per second of the load; null without /proc/self/schedstat. */
  waitedForCoreMsPerSec: number | null;
}

/** Run-queue wait of this process's main thread in ns (the leader's schedstat is its own thread's), or null. */
function runQueueWaitNs(): number | null {
  try {
    const wait = Number(readFileSync('/proc/self/schedstat', 'latin1').split(' ')[1]);
    return Number.isFinite(wait) ? wait : null;
  } catch {
    return null;
  }
}

/** Starts watching; `stop()` returns what was seen since. */
export function watchServerPauses(): { stop(): ServerPauses } {
  const gc = { count: 0, totalMs: 0, maxMs: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.count++;
      gc.totalMs += entry.duration;
      gc.maxMs = Math.max(gc.maxMs, entry.duration);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const startedAt = performance.now();
  const waitBefore = runQueueWaitNs();
  return {
    stop() {
      // Entries still buffered are delivered by takeRecords, not by the callback.
      for (const entry of observer.takeRecords()) {
        gc.count++;
        gc.totalMs += entry.duration;
        gc.maxMs = Math.max(gc.maxMs, entry.duration);
      }
      observer.disconnect();
      const seconds = (performance.now() - startedAt) / 1000;
      const waitAfter = runQueueWaitNs();
      const waited = waitBefore === null || waitAfter === null ? null : (waitAfter - waitBefore) / 1e6 / Math.max(seconds, 1e-9);
      return { gc, waitedForCoreMsPerSec: waited };
    },
  };
}
