import { describe, expect, it } from 'vitest';
import { createLimiter, mapLimit } from '../../../lib/limiter.js';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets pending promise callbacks run. */
const flush = () => new Promise((r) => setImmediate(r));

/** Tracks how many tasks are inside at once. */
function gauge() {
  const g = {
    active: 0,
    peak: 0,
    async around<T>(fn: () => Promise<T>): Promise<T> {
      g.active++;
      g.peak = Math.max(g.peak, g.active);
      try {
        return await fn();
      } finally {
        g.active--;
      }
    },
  };
  return g;
}

describe('createLimiter', () => {
  it('never runs more than `concurrency` tasks at once and runs them all', async () => {
    const limit = createLimiter(3);
    const g = gauge();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limit(() => g.around(async () => {
          await new Promise((r) => setTimeout(r, (i * 7) % 5));
          return i;
        })),
      ),
    );
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(g.peak).toBe(3);
  });

  it('starts queued tasks in FIFO order as slots free up', async () => {
    const limit = createLimiter(1);
    const gates = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const all = gates.map((gate, i) =>
      limit(async () => {
        started.push(i);
        await gate.promise;
      }),
    );
    await flush();
    expect(started).toEqual([0]);
    gates[0]!.resolve();
    await flush();
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve();
    gates[2]!.resolve();
    await Promise.all(all);
    expect(started).toEqual([0, 1, 2]);
  });

  it('rejects only the failing task and frees its slot', async () => {
    const limit = createLimiter(1);
    const failing = limit(async () => {
      throw new Error('task failed');
    });
    const next = limit(async () => 'still runs');
    await expect(failing).rejects.toThrow('task failed');
    await expect(next).resolves.toBe('still runs');
  });

  it('frees the slot when the function throws synchronously', async () => {
    const limit = createLimiter(1);
    const throwsSync = (() => {
      throw new Error('sync');
    }) as () => Promise<never>;
    await expect(limit(throwsSync)).rejects.toThrow('sync');
    await expect(limit(async () => 1)).resolves.toBe(1);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects concurrency %s with a RangeError', (concurrency) => {
    expect(() => createLimiter(concurrency)).toThrow(RangeError);
  });
});

describe('mapLimit', () => {
  it('maps every item in order with at most `concurrency` in flight', async () => {
    const g = gauge();
    const items = Array.from({ length: 15 }, (_, i) => i);
    const results = await mapLimit(items, 4, (item, index) =>
      g.around(async () => {
        await new Promise((r) => setTimeout(r, (item * 3) % 4));
        return `${item}:${index}`;
      }),
    );
    expect(results).toEqual(items.map((i) => `${i}:${i}`));
    expect(g.peak).toBe(4);
  });

  it('resolves to an empty array for no items', async () => {
    await expect(mapLimit([], 2, async () => 1)).resolves.toEqual([]);
  });

  it('throws the first error, starts no new items after it, and waits for those in flight', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const slow = deferred();
    const outcome = mapLimit([0, 1, 2, 3, 4], 2, async (item) => {
      started.push(item);
      if (item === 0) {
        await slow.promise;
        finished.push(item);
        return item;
      }
      throw new Error(`item ${item} failed`);
    });
    let settled = false;
    void outcome.catch(() => (settled = true));
    await flush();
    expect(started).toEqual([0, 1]);
    expect(settled).toBe(false);
    slow.resolve();
    await expect(outcome).rejects.toThrow('item 1 failed');
    expect(finished).toEqual([0]);
    expect(started).toEqual([0, 1]);
  });

  it('rejects an invalid concurrency with a RangeError', async () => {
    await expect(mapLimit([1], 0, async (x) => x)).rejects.toThrow(RangeError);
  });
});
