import { afterEach, describe, expect, it, vi } from 'vitest';
import type { InstanceHandle } from '../../../src/supervisor/instance/handle.js';
import { rehydrate } from '../../../src/supervisor/rehydrate.js';

/** Lets pending promise callbacks run. */
const flush = () => new Promise((r) => setImmediate(r));

interface FakeFleet {
  handles: InstanceHandle[];
  /** Calls in order: `mark:<id>` and `start:<id>`. */
  calls: string[];
  /** The instances queued for boot so far (queueForBoot), in order. */
  queued: string[];
  /** What a stop does to a queued instance (a disable during the boot). */
  unqueue: (id: string) => void;
  /** Starts in flight now, and the most there ever were. */
  active: () => number;
  peak: () => number;
  /** Lets instance `id`'s start finish (or fail with `error`). */
  finish: (id: string, error?: Error) => void;
}

/** Stand-in handles whose start() stays pending until the test finishes it. */
function fakeFleet(ids: string[]): FakeFleet {
  const calls: string[] = [];
  const queued: string[] = [];
  const unqueued = new Set<string>();
  const pending = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  let active = 0;
  let peak = 0;
  const handles = ids.map(
    (id) =>
      ({
        id,
        queueForBoot: () => void queued.push(id),
        // As the real handle: queued until a start or a stop (`unqueue`) takes it out.
        get live() {
          return { bootQueued: queued.includes(id) && !unqueued.has(id) };
        },
        markRehydrating: async () => void calls.push(`mark:${id}`),
        start: (trigger: string) => {
          expect(trigger).toBe('rehydrate');
          unqueued.add(id);
          calls.push(`start:${id}`);
          active++;
          peak = Math.max(peak, active);
          return new Promise<void>((resolve, reject) => pending.set(id, { resolve, reject })).finally(() => active--);
        },
      }) as unknown as InstanceHandle,
  );
  return {
    handles,
    calls,
    queued,
    unqueue: (id) => void unqueued.add(id),
    active: () => active,
    peak: () => peak,
    finish: (id, error) => {
      const p = pending.get(id);
      if (!p) throw new Error(`${id} has not started`);
      if (error) p.reject(error);
      else p.resolve();
    },
  };
}

const starts = (calls: string[]) => calls.filter((c) => c.startsWith('start:')).map((c) => c.slice(6));

afterEach(() => {
  vi.useRealTimers();
});

describe('rehydrate', () => {
  it('queues every instance for boot before its first await, so a check loop ticking meanwhile starts none of them', async () => {
    const ids = ['a', 'b', 'c', 'd'];
    const fleet = fakeFleet(ids);
    const done = rehydrate(fleet.handles, { concurrency: 4, staggerMs: 0 });
    expect(fleet.queued).toEqual(ids);
    expect(fleet.calls).toEqual(['mark:a']);
    await flush();
    for (const id of ids) fleet.finish(id);
    await done;
  });

  it('starts only what is still queued when its turn comes: one disabled (stopped) meanwhile stays down', async () => {
    const fleet = fakeFleet(['a', 'b', 'c']);
    const done = rehydrate(fleet.handles, { concurrency: 1, staggerMs: 0 });
    await flush();
    expect(starts(fleet.calls)).toEqual(['a']);
    fleet.unqueue('b');
    fleet.finish('a');
    await flush();
    expect(starts(fleet.calls)).toEqual(['a', 'c']);
    fleet.finish('c');
    await done;
    expect(starts(fleet.calls)).toEqual(['a', 'c']);
  });

  it('marks every instance first, then starts them in list order with at most `concurrency` in flight', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const fleet = fakeFleet(ids);
    const done = rehydrate(fleet.handles, { concurrency: 3, staggerMs: 0 });
    await flush();
    expect(fleet.calls.slice(0, ids.length)).toEqual(ids.map((id) => `mark:${id}`));
    expect(starts(fleet.calls)).toEqual(['a', 'b', 'c']);

    fleet.finish('b');
    await flush();
    expect(starts(fleet.calls)).toEqual(['a', 'b', 'c', 'd']);
    for (const id of ['a', 'c', 'd', 'e', 'f']) {
      fleet.finish(id);
      await flush();
    }
    fleet.finish('g');
    await done;
    expect(starts(fleet.calls)).toEqual(ids);
    expect(fleet.peak()).toBe(3);
  });

  it('spaces launches by staggerMs even when slots are free', async () => {
    vi.useFakeTimers();
    const fleet = fakeFleet(['a', 'b', 'c']);
    const done = rehydrate(fleet.handles, { concurrency: 3, staggerMs: 100 });
    await vi.advanceTimersByTimeAsync(0);
    expect(starts(fleet.calls)).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(99);
    expect(starts(fleet.calls)).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(1);
    expect(starts(fleet.calls)).toEqual(['a', 'b']);
    await vi.advanceTimersByTimeAsync(100);
    expect(starts(fleet.calls)).toEqual(['a', 'b', 'c']);
    for (const id of ['a', 'b', 'c']) fleet.finish(id);
    await done;
  });

  it('starts nothing more once the signal aborts; instances not started yet stay down', async () => {
    const controller = new AbortController();
    const fleet = fakeFleet(['a', 'b', 'c']);
    const done = rehydrate(fleet.handles, { concurrency: 1, staggerMs: 0, signal: controller.signal });
    await flush();
    expect(starts(fleet.calls)).toEqual(['a']);
    controller.abort();
    fleet.finish('a');
    await done;
    expect(starts(fleet.calls)).toEqual(['a']);
  });

  it('after a start throws, starts nothing new, waits for the ones in flight, then rejects with that error', async () => {
    const fleet = fakeFleet(['a', 'b', 'c', 'd']);
    const done = rehydrate(fleet.handles, { concurrency: 2, staggerMs: 0 });
    let settled = false;
    void done.catch(() => (settled = true));
    await flush();
    fleet.finish('b', new Error('database gone'));
    await flush();
    expect(settled).toBe(false);
    expect(fleet.active()).toBe(1);
    fleet.finish('a');
    await expect(done).rejects.toThrow('database gone');
    expect(starts(fleet.calls)).toEqual(['a', 'b']);
  });
});
