import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WorkerClient, WorkerExit } from '../../../../src/worker/handle.js';
import { WorkerSlot } from '../../../../src/supervisor/instance/worker-slot.js';

/** Lets pending promise callbacks run (microtasks only: safe under fake timers). */
async function flush(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

interface FakeWorker {
  client: WorkerClient;
  stop: ReturnType<typeof vi.fn>;
  kill: ReturnType<typeof vi.fn>;
  exit: (e?: WorkerExit) => void;
}

/** A worker whose exit the test controls; stop() resolves with the exit once the test lets it. */
function fakeWorker(): FakeWorker {
  let exit!: (e: WorkerExit) => void;
  const exited = new Promise<WorkerExit>((r) => (exit = r));
  const stop = vi.fn(async () => exited);
  const kill = vi.fn();
  const client = { pid: 4242, browserPid: null, alive: true, exited, stop, kill, restart: vi.fn() } as unknown as WorkerClient;
  return { client, stop, kill, exit: (e = { code: null, signal: 'SIGKILL' }) => exit(e) };
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('WorkerSlot', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is empty at first', async () => {
    const slot = new WorkerSlot();
    expect(slot.current).toBeNull();
    expect(slot.occupied).toBe(false);
    expect(slot.pendingStart).toBeNull();
    expect(slot.startedAt).toBeNull();
    expect(slot.generation).toBe(0);
    expect(await slot.running()).toBeNull();
  });

  it('begin runs one start with a fresh generation; a second begin while it runs joins it', async () => {
    const slot = new WorkerSlot();
    const gate = deferred();
    const start = vi.fn(async (_generation: number) => gate.promise);
    const first = slot.begin(start);
    const second = slot.begin(start);
    expect(second).toBe(first);
    expect(start).toHaveBeenCalledTimes(1);
    expect(start).toHaveBeenCalledWith(1);
    expect(slot.generation).toBe(1);
    expect(slot.occupied).toBe(true);
    expect(slot.pendingStart).toBe(first);

    gate.resolve();
    await first;
    expect(slot.pendingStart).toBeNull();
    expect(slot.occupied).toBe(false);

    // once it is over, a new begin is a new start
    await slot.begin(start);
    expect(start).toHaveBeenCalledTimes(2);
    expect(start).toHaveBeenLastCalledWith(2);
  });

  it('a failed start frees the slot and rejects its joiners', async () => {
    const slot = new WorkerSlot();
    const first = slot.begin(async () => {
      throw new Error('boom');
    });
    await expect(first).rejects.toThrow('boom');
    expect(slot.pendingStart).toBeNull();
  });

  it('install accepts the current generation and records when it started', async () => {
    const at = new Date('2026-01-15T10:00:00.000Z');
    const slot = new WorkerSlot(() => at);
    const w = fakeWorker();
    await slot.begin(async (generation) => {
      expect(slot.install(w.client, generation)).toBe(true);
    });
    expect(slot.current).toBe(w.client);
    expect(slot.startedAt).toBe(at);
    expect(await slot.running()).toBe(w.client);
  });

  it('running() waits for a start in progress', async () => {
    const slot = new WorkerSlot();
    const gate = deferred();
    const w = fakeWorker();
    void slot.begin(async (generation) => {
      await gate.promise;
      slot.install(w.client, generation);
    });
    expect(slot.current).toBeNull();
    const running = slot.running();
    gate.resolve();
    expect(await running).toBe(w.client);
  });

  it('install refuses a stale generation (the start was overtaken)', async () => {
    const slot = new WorkerSlot();
    const gate = deferred();
    const w = fakeWorker();
    let installed: boolean | undefined;
    const start = slot.begin(async (generation) => {
      await gate.promise;
      installed = slot.install(w.client, generation);
    });
    expect(slot.bump()).toBe(2);
    expect(slot.isCurrent(1)).toBe(false);
    expect(slot.isCurrent(2)).toBe(true);
    gate.resolve();
    await start;
    expect(installed).toBe(false);
    expect(slot.current).toBeNull();
    expect(slot.startedAt).toBeNull();
  });

  it('drop stops the worker politely, forgets it and bumps the generation', async () => {
    const slot = new WorkerSlot();
    const w = fakeWorker();
    await slot.begin(async (g) => void slot.install(w.client, g));
    const before = slot.generation;
    const dropping = slot.drop(1_234);
    expect(slot.current).toBeNull();
    expect(slot.startedAt).toBeNull();
    expect(slot.generation).toBe(before + 1);
    expect(slot.isCurrent(before)).toBe(false);
    expect(w.stop).toHaveBeenCalledWith(1_234);
    expect(w.kill).not.toHaveBeenCalled();
    w.exit({ code: 0, signal: null });
    await dropping;
  });

  it('a worker being stopped still occupies the slot until it is gone (no check calls it CONNECTED without a worker)', async () => {
    const slot = new WorkerSlot();
    const w = fakeWorker();
    await slot.begin(async (g) => void slot.install(w.client, g));
    const dropping = slot.drop(5_000);
    expect(slot.current).toBeNull();
    expect(slot.occupied).toBe(true);
    w.exit({ code: 0, signal: null });
    await dropping;
    expect(slot.occupied).toBe(false);
  });

  it('drop without a worker still bumps the generation', async () => {
    const slot = new WorkerSlot();
    await slot.drop(100);
    expect(slot.generation).toBe(1);
  });

  it('abandon kills without stop, reaps, waits for the exit and returns the generation it left', async () => {
    const slot = new WorkerSlot();
    const w = fakeWorker();
    await slot.begin(async (g) => void slot.install(w.client, g));
    const calls: string[] = [];
    w.kill.mockImplementation(() => void calls.push('kill'));
    const reap = vi.fn(async () => void calls.push('reap'));

    let done: number | undefined;
    const abandoning = slot.abandon(reap).then((g) => (done = g));
    await flush();
    expect(calls).toEqual(['kill', 'reap']);
    expect(w.stop).not.toHaveBeenCalled();
    expect(slot.current).toBeNull();
    expect(done).toBeUndefined(); // still waiting for the exit

    w.exit();
    await abandoning;
    expect(done).toBe(2);
    expect(slot.isCurrent(done!)).toBe(true);
    expect(reap).toHaveBeenCalledTimes(1);
  });

  it('abandon re-reaps while an abandoned start is still pending, and stops once it has given up', async () => {
    vi.useFakeTimers();
    const slot = new WorkerSlot();
    const gate = deferred();
    void slot.begin(async () => gate.promise).catch(() => undefined);
    const reap = vi.fn(async () => undefined);

    let done: number | undefined;
    const abandoning = slot.abandon(reap).then((g) => (done = g));
    await flush();
    expect(reap).toHaveBeenCalledTimes(1);

    await vi.advanceTimersByTimeAsync(500);
    expect(reap).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(500);
    expect(reap).toHaveBeenCalledTimes(3);
    expect(done).toBeUndefined();

    // the start gives up (its browser is gone)
    gate.reject(new Error('page never loaded'));
    await vi.advanceTimersByTimeAsync(0);
    await abandoning;
    expect(done).toBe(2);
    const reaps = reap.mock.calls.length;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(reap).toHaveBeenCalledTimes(reaps);
  });

  it('abandon leaves a generation that a later stop or start moves on', async () => {
    const slot = new WorkerSlot();
    const generation = await slot.abandon(async () => undefined);
    expect(slot.isCurrent(generation)).toBe(true);
    slot.bump();
    expect(slot.isCurrent(generation)).toBe(false);
  });
});
