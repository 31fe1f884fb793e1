import { describe, expect, it } from 'vitest';
import { SettledRead } from '../../../lib/settled-read.js';

/** A read of a counter the test moves, its version and clock in the test's hands. */
function setUp(options: { maxAgeMs?: number; keep?: (v: number | null) => boolean } = {}) {
  const state = { value: 1 as number | null, version: 0 as number | null, now: 0, runs: 0 };
  const read = new SettledRead(
    async () => {
      state.runs++;
      return state.value;
    },
    { version: () => state.version, maxAgeMs: options.maxAgeMs ?? 250, now: () => state.now, ...(options.keep ? { keep: options.keep } : {}) },
  );
  return { state, read };
}

describe('SettledRead', () => {
  it('serves the last result again while the version holds and it is young', async () => {
    const { state, read } = setUp();
    expect(await read.read()).toBe(1);
    state.value = 2; // changed where the version does not see it
    state.now = 249;
    expect(await read.read()).toBe(1);
    expect(state.runs).toBe(1);
  });

  it('runs again once the version moved: a write began or ended since the last run started', async () => {
    const { state, read } = setUp();
    await read.read();
    state.value = 2;
    state.version = 1;
    expect(await read.read()).toBe(2);
    expect(state.runs).toBe(2);
  });

  it('runs again once the last result is maxAgeMs old', async () => {
    const { state, read } = setUp();
    await read.read();
    state.value = 2;
    state.now = 250;
    expect(await read.read()).toBe(2);
  });

  it('never serves again without a version, nor a result it must not keep', async () => {
    const unversioned = setUp();
    unversioned.state.version = null;
    await unversioned.read.read();
    await unversioned.read.read();
    expect(unversioned.state.runs).toBe(2);

    const down = setUp({ keep: (v) => v !== null });
    down.state.value = null;
    expect(await down.read.read()).toBeNull();
    down.state.value = 3;
    expect(await down.read.read()).toBe(3);
    expect(down.state.runs).toBe(2);
  });

  it('does not reuse a result whose run overlapped a write: the version is taken before the run', { timeout: 5_000 }, async () => {
    const state = { version: 0 };
    let release: (() => void) | null = null;
    const read = new SettledRead(
      () =>
        new Promise<string>((resolve) => {
          release = () => resolve(`run ${read.runs}`);
        }),
      { version: () => state.version, maxAgeMs: 10_000 },
    );
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise((r) => setImmediate(r));
    };
    const first = read.read();
    await until(() => release !== null);
    state.version = 1; // a write ended while the run was in flight
    release!();
    expect(await first).toBe('run 1');
    release = null;
    const second = read.read();
    await until(() => release !== null);
    release!();
    expect(await second).toBe('run 2');
  });
});
