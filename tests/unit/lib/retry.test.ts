import { afterEach, describe, expect, it, vi } from 'vitest';
import { retry, type Sleep } from '../../../lib/retry.js';

/** Records the requested waits and returns at once, so the tests need no clock at all. */
function recordingSleep(): { sleep: Sleep; waits: number[] } {
  const waits: number[] = [];
  return { waits, sleep: async (ms) => void waits.push(ms) };
}

/** Fails `failures` times, then resolves with the attempt number. */
function flaky(failures: number): (attempt: number) => Promise<number> {
  return async (attempt) => {
    if (attempt < failures) throw new Error(`failure ${attempt}`);
    return attempt;
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('retry', () => {
  it('returns the first success without waiting', async () => {
    const { sleep, waits } = recordingSleep();
    await expect(retry(flaky(0), { attempts: 3, delayMs: () => 100, sleep })).resolves.toBe(0);
    expect(waits).toEqual([]);
  });

  it('retries until success, waiting delayMs(attempt) after each failed attempt', async () => {
    const { sleep, waits } = recordingSleep();
    const result = await retry(flaky(3), { attempts: 5, delayMs: (a) => (a + 1) * 10, sleep });
    expect(result).toBe(3);
    expect(waits).toEqual([10, 20, 30]);
  });

  it('rethrows the last error itself once attempts are used up', async () => {
    const { sleep, waits } = recordingSleep();
    const fn = vi.fn(flaky(10));
    await expect(retry(fn, { attempts: 3, delayMs: () => 1, sleep })).rejects.toThrow('failure 2');
    expect(fn).toHaveBeenCalledTimes(3);
    expect(waits).toHaveLength(2);
  });

  it('makes exactly one call when attempts is 1', async () => {
    const fn = vi.fn(flaky(1));
    await expect(retry(fn, { attempts: 1, delayMs: () => 1, sleep: recordingSleep().sleep })).rejects.toThrow('failure 0');
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('stops at once when shouldRetry says no, passing it the error and attempt', async () => {
    const fatal = new Error('fatal');
    const shouldRetry = vi.fn((error: unknown) => error !== fatal);
    const fn = vi.fn(async (attempt: number) => {
      throw attempt === 0 ? new Error('transient') : fatal;
    });
    await expect(retry(fn, { attempts: 5, delayMs: () => 1, shouldRetry, sleep: recordingSleep().sleep })).rejects.toBe(fatal);
    expect(fn).toHaveBeenCalledTimes(2);
    expect(shouldRetry.mock.calls).toEqual([
      [new Error('transient'), 0],
      [fatal, 1],
    ]);
  });

  it('does not call fn when the signal is already aborted', async () => {
    const fn = vi.fn(flaky(0));
    const signal = AbortSignal.abort(new Error('shutting down'));
    await expect(retry(fn, { attempts: 3, delayMs: () => 1, signal })).rejects.toThrow('shutting down');
    expect(fn).not.toHaveBeenCalled();
  });

  it('stops retrying when the signal aborts between attempts', async () => {
    const controller = new AbortController();
    const fn = vi.fn(async () => {
      controller.abort(new Error('stop'));
      throw new Error('failed');
    });
    const { sleep, waits } = recordingSleep();
    await expect(retry(fn, { attempts: 5, delayMs: () => 1, signal: controller.signal, sleep })).rejects.toThrow('stop');
    expect(fn).toHaveBeenCalledTimes(1);
    expect(waits).toEqual([]);
  });

  it('by default waits on the global setTimeout and an abort during the wait rejects with the abort reason', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const fn = vi.fn(flaky(10));
    const outcome = retry(fn, { attempts: 5, delayMs: () => 60_000, signal: controller.signal });
    const rejection = expect(outcome).rejects.toThrow('shutdown requested');
    await vi.advanceTimersByTimeAsync(59_999);
    expect(fn).toHaveBeenCalledTimes(1);
    controller.abort(new Error('shutdown requested'));
    await rejection;
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('by default sleeps exactly delayMs before the next attempt', async () => {
    vi.useFakeTimers();
    const fn = vi.fn(flaky(1));
    const outcome = retry(fn, { attempts: 2, delayMs: () => 5000 });
    await vi.advanceTimersByTimeAsync(4999);
    expect(fn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(outcome).resolves.toBe(1);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects attempts = %s with a RangeError', async (attempts) => {
    await expect(retry(flaky(0), { attempts, delayMs: () => 1 })).rejects.toThrow(RangeError);
  });
});
