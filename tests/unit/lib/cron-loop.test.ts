import cron from 'node-cron';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CronLoop, intervalToCron, type CronLoopOptions } from '../../../lib/cron-loop.js';

const loops: CronLoop[] = [];

function makeLoop(opts: Partial<CronLoopOptions> & Pick<CronLoopOptions, 'task'>): CronLoop {
  const loop = new CronLoop({ name: `test-loop-${loops.length}`, schedule: '* * * * * *', ...opts });
  loops.push(loop);
  return loop;
}

/** Polls `condition` every 25 ms for at most `timeoutMs`, so a broken loop fails the test instead of hanging it. */
async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(loops.splice(0).map((loop) => loop.stop()));
});

describe('CronLoop', () => {
  it('skips a tick that comes due while the previous one runs, instead of running two at once', async () => {
    let active = 0;
    let peak = 0;
    const onSkip = vi.fn();
    const loop = makeLoop({
      onSkip,
      task: async (signal) => {
        active++;
        peak = Math.max(peak, active);
        await sleep(2500, signal);
        active--;
      },
    });
    loop.start();
    await waitFor(() => loop.stats().skips >= 2, 8000);
    await loop.stop();
    const stats = loop.stats();
    expect(peak).toBe(1);
    expect(stats.runs).toBeGreaterThanOrEqual(1);
    expect(onSkip).toHaveBeenCalledTimes(stats.skips);
  });

  it('reports an error from the task and keeps ticking', async () => {
    const onError = vi.fn();
    let calls = 0;
    const loop = makeLoop({
      onError,
      task: async () => {
        calls++;
        if (calls === 1) throw new Error('first tick failed');
      },
    });
    loop.start();
    await waitFor(() => loop.stats().runs >= 2 && !loop.stats().running, 5000);
    await loop.stop();
    const stats = loop.stats();
    expect(stats.errors).toBe(1);
    expect(stats.lastError).toEqual({ name: 'Error', message: 'first tick failed' });
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]![0]).toMatchObject({ message: 'first tick failed' });
  });

  it('stop() aborts the running tick and resolves only once it has finished', async () => {
    let aborted = false;
    let finished = false;
    const loop = makeLoop({
      task: (signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            // Some cleanup that takes a while after the abort.
            setTimeout(() => {
              finished = true;
              resolve();
            }, 100);
          });
        }),
    });
    const ran = loop.runNow();
    expect(loop.stats().running).toBe(true);
    await loop.stop();
    expect(aborted).toBe(true);
    expect(finished).toBe(true);
    expect(loop.stats().running).toBe(false);
    await expect(ran).resolves.toBe(true);
  });

  it('stop() of a started loop waits for its scheduled tick and removes the node-cron task', async () => {
    let finished = false;
    const loop = makeLoop({
      name: 'stop-scheduled',
      task: async (signal) => {
        await sleep(10_000, signal);
        finished = true;
      },
    });
    loop.start();
    expect([...cron.getTasks().values()].some((task) => task.name === 'stop-scheduled')).toBe(true);
    await waitFor(() => loop.stats().running, 3000);
    await loop.stop();
    expect(finished).toBe(true);
    expect([...cron.getTasks().values()].some((task) => task.name === 'stop-scheduled')).toBe(false);
  });

  it('runNow() runs one tick, records it, and resolves true when done', async () => {
    const task = vi.fn(async (_signal: AbortSignal) => {});
    const loop = makeLoop({ task });
    await expect(loop.runNow()).resolves.toBe(true);
    const stats = loop.stats();
    expect(task).toHaveBeenCalledTimes(1);
    expect(task.mock.calls[0]![0]).toBeInstanceOf(AbortSignal);
    expect(stats).toMatchObject({ runs: 1, skips: 0, errors: 0, running: false, lastError: null });
    expect(stats.lastRunAt).toBeInstanceOf(Date);
    expect(stats.lastDurationMs).toBeGreaterThanOrEqual(0);
  });

  it('runNow() while a tick runs is skipped and counted, and does not call the task', async () => {
    let release!: () => void;
    const firstTickGate = new Promise<void>((r) => (release = r));
    const task = vi.fn(() => (task.mock.calls.length === 1 ? firstTickGate : Promise.resolve()));
    const onSkip = vi.fn();
    const loop = makeLoop({ task, onSkip });
    const first = loop.runNow();
    await expect(loop.runNow()).resolves.toBe(false);
    expect(task).toHaveBeenCalledTimes(1);
    expect(onSkip).toHaveBeenCalledTimes(1);
    expect(loop.stats()).toMatchObject({ runs: 1, skips: 1, running: true });
    release();
    await expect(first).resolves.toBe(true);
    await expect(loop.runNow()).resolves.toBe(true);
    expect(task).toHaveBeenCalledTimes(2);
  });

  it('catches errors of every kind, including synchronous throws and non-Error values', async () => {
    const onError = vi.fn();
    const loop = makeLoop({
      onError,
      task: (() => {
        throw 'not an error object';
      }) as CronLoopOptions['task'],
    });
    await expect(loop.runNow()).resolves.toBe(true);
    expect(onError.mock.calls[0]![0]).toBeInstanceOf(Error);
    expect(loop.stats()).toMatchObject({ errors: 1, running: false, lastError: { message: 'not an error object' } });
    await expect(loop.runNow()).resolves.toBe(true);
    expect(loop.stats().runs).toBe(2);
  });

  it('keeps lastError after a later success', async () => {
    let fail = true;
    const loop = makeLoop({
      task: async () => {
        if (fail) throw new Error('once');
      },
    });
    await loop.runNow();
    fail = false;
    await loop.runNow();
    expect(loop.stats()).toMatchObject({ runs: 2, errors: 1, lastError: { message: 'once' } });
  });

  it('survives onError and onSkip callbacks that throw', async () => {
    let release!: () => void;
    const loop = makeLoop({
      onError: () => {
        throw new Error('bad onError');
      },
      onSkip: () => {
        throw new Error('bad onSkip');
      },
      task: () => new Promise<void>((_, reject) => (release = () => reject(new Error('task failed')))),
    });
    const first = loop.runNow();
    await expect(loop.runNow()).resolves.toBe(false);
    release();
    await expect(first).resolves.toBe(true);
    expect(loop.stats()).toMatchObject({ skips: 1, errors: 1 });
  });

  it('waits startDelayMs before scheduling, and start() twice schedules once', async () => {
    vi.useFakeTimers();
    const task = vi.fn(async () => {});
    const loop = makeLoop({ name: 'delayed', schedule: '*/10 * * * * *', startDelayMs: 60_000, task });
    loop.start();
    loop.start();
    await vi.advanceTimersByTimeAsync(59_000);
    expect(task).not.toHaveBeenCalled();
    expect([...cron.getTasks().values()].filter((t) => t.name === 'delayed')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(12_000);
    expect([...cron.getTasks().values()].filter((t) => t.name === 'delayed')).toHaveLength(1);
    expect(task).toHaveBeenCalled();
  });

  it('stop() before the start delay has passed cancels the start', async () => {
    vi.useFakeTimers();
    const task = vi.fn(async () => {});
    const loop = makeLoop({ schedule: '* * * * * *', startDelayMs: 5000, task });
    loop.start();
    await loop.stop();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(task).not.toHaveBeenCalled();
  });

  it('can be started again after stop()', async () => {
    vi.useFakeTimers();
    const task = vi.fn(async () => {});
    const loop = makeLoop({ task });
    loop.start();
    await loop.stop();
    loop.start();
    await vi.advanceTimersByTimeAsync(3000);
    expect(task).toHaveBeenCalled();
  });

  it('rejects an invalid schedule or start delay with a RangeError naming the loop', () => {
    const task = async () => {};
    expect(() => new CronLoop({ name: 'bad', schedule: 'every minute', task })).toThrow(/CronLoop bad: schedule/);
    expect(() => new CronLoop({ name: 'bad', schedule: '* * * * *', task, startDelayMs: -1 })).toThrow(RangeError);
  });
});

describe('intervalToCron', () => {
  it.each([
    [1000, '* * * * * *'],
    [2000, '*/2 * * * * *'],
    [5000, '*/5 * * * * *'],
    [15_000, '*/15 * * * * *'],
    [30_000, '*/30 * * * * *'],
    [60_000, '0 * * * * *'],
    [120_000, '0 */2 * * * *'],
    [300_000, '0 */5 * * * *'],
    [1_800_000, '0 */30 * * * *'],
    [3_600_000, '0 0 * * * *'],
    [7_200_000, '0 0 */2 * * *'],
    [6 * 3_600_000, '0 0 */6 * * *'],
    [12 * 3_600_000, '0 0 */12 * * *'],
    [24 * 3_600_000, '0 0 0 * * *'],
  ])('%i ms -> "%s", a valid node-cron expression', (ms, expected) => {
    expect(intervalToCron(ms)).toBe(expected);
    expect(cron.validate(expected)).toBe(true);
  });

  it.each([
    0,
    -1000,
    1500,
    7000,
    45_000,
    90_000,
    7 * 60_000,
    45 * 60_000,
    5 * 3_600_000,
    48 * 3_600_000,
    Number.NaN,
    Number.POSITIVE_INFINITY,
  ])('throws a RangeError naming %s ms', (ms) => {
    expect(() => intervalToCron(ms)).toThrow(RangeError);
    expect(() => intervalToCron(ms)).toThrow(`${ms} ms`);
  });
});
