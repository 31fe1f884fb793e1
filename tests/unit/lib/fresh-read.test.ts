import { describe, expect, it } from 'vitest';
import { FreshRead } from '../../../lib/fresh-read.js';

/** A run whose end the test decides. */
function gate<T>() {
  let open!: (value: T) => void;
  let fail!: (err: Error) => void;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

describe('FreshRead: requests share a read, never one that began before they came', () => {
  it('a lone caller gets a run of its own at once', async () => {
    let n = 0;
    const read = new FreshRead(async () => ++n);
    expect(await read.read()).toBe(1);
    expect(await read.read()).toBe(2);
    expect(read.runs).toBe(2);
  });

  it('callers that come while a run is in flight share the next run, which starts when it settles', async () => {
    const gates = [gate<string>(), gate<string>()];
    let started = 0;
    const read = new FreshRead(() => gates[started++]!.promise);
    const first = read.read();
    await Promise.resolve();
    // These came after the first run began: it may miss a write that committed just before them.
    const later = [read.read(), read.read(), read.read()];
    await Promise.resolve();
    expect(started).toBe(1);
    gates[0]!.open('run 1');
    expect(await first).toBe('run 1');
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toBe(2);
    gates[1]!.open('run 2');
    expect(await Promise.all(later)).toEqual(['run 2', 'run 2', 'run 2']);
    expect(read.runs).toBe(2);
  });

  it('a failed run fails its callers only; the next caller starts afresh', async () => {
    let n = 0;
    const read = new FreshRead(async () => {
      n++;
      if (n === 1) throw new Error('database away');
      return n;
    });
    await expect(read.read()).rejects.toThrow('database away');
    expect(await read.read()).toBe(2);
  });

  it('callers waiting on a run that fails get the next run, not the failure', async () => {
    const gates = [gate<number>(), gate<number>()];
    let started = 0;
    const read = new FreshRead(() => gates[started++]!.promise);
    const first = read.read();
    await Promise.resolve();
    const later = read.read();
    gates[0]!.fail(new Error('lost'));
    await expect(first).rejects.toThrow('lost');
    await new Promise((resolve) => setImmediate(resolve));
    gates[1]!.open(7);
    expect(await later).toBe(7);
  });
});
