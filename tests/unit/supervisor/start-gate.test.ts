import { afterEach, describe, expect, it, vi } from 'vitest';
import { StartGate, type FleetMemoryMeasurement, type LaunchTicket } from '../../../src/supervisor/start-gate.js';

const MIB = 1024 * 1024;

/** A fleet whose memory the test sets; counts how often it was measured and how often afresh. */
function fakeMemory(expectedMb = 100) {
  const byInstance = new Map<string, number>();
  const state = { calls: 0, fresh: 0, expectedMb };
  const measure = (fresh: boolean): FleetMemoryMeasurement => {
    state.calls++;
    if (fresh) state.fresh++;
    let total = 0;
    for (const b of byInstance.values()) total += b;
    return { at: Date.now(), totalBytes: total, byInstance: new Map(byInstance), expectedBytes: state.expectedMb * MIB, expectedFrom: 'setting' };
  };
  return { byInstance, state, measure, set: (id: string, mb: number) => byInstance.set(id, mb * MIB), drop: (id: string) => byInstance.delete(id) };
}

function gate(memory: ReturnType<typeof fakeMemory>, over: Partial<ConstructorParameters<typeof StartGate>[0]> = {}) {
  const waits: string[] = [];
  const admits: string[] = [];
  const g = new StartGate({
    limit: 2,
    capBytes: 1000 * MIB,
    criticalPercent: 95,
    measure: memory.measure,
    onWait: (id) => waits.push(id),
    onAdmit: (id) => admits.push(id),
    ...over,
  });
  return { g, waits, admits };
}

/** Lets resolved promises' callbacks run. */
const flush = () => new Promise((r) => setImmediate(r));

/** Requests every id and records, in order, which got a ticket (null: cancelled). */
function requestAll(g: StartGate, ids: string[]) {
  const got: string[] = [];
  const tickets = new Map<string, LaunchTicket | null>();
  const queued = new Map<string, boolean>();
  for (const id of ids) {
    const r = g.request(id);
    queued.set(id, r.queued);
    void r.ticket.then((t) => {
      tickets.set(id, t);
      if (t) got.push(id);
    });
  }
  return { got, tickets, queued };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('StartGate', () => {
  it('admits up to `limit` launches at once, then serves the queue oldest first as launches finish', async () => {
    const mem = fakeMemory(10);
    const { g } = gate(mem);
    const r = requestAll(g, ['a', 'b', 'c', 'd', 'e']);
    await flush();
    expect(r.got).toEqual(['a', 'b']);
    expect([...r.queued.values()]).toEqual([false, false, true, true, true]);
    expect(g.stats()).toEqual({ launching: 2, waiting: 3, limit: 2, reason: '2 launch(es) in progress, at most 2 (LAUNCH_CONCURRENCY)' });
    expect(g.waiting('d')).toMatchObject({ waiting: true, wait: 'launches', position: 2 });
    expect(g.waiting('a')).toBeNull();
    expect(g.launchingIds()).toEqual(['a', 'b']);

    r.tickets.get('b')!.release();
    await flush();
    expect(r.got).toEqual(['a', 'b', 'c']);
    // Releasing twice frees one slot, not two.
    r.tickets.get('b')!.release();
    await flush();
    expect(r.got).toEqual(['a', 'b', 'c']);
    r.tickets.get('a')!.release();
    r.tickets.get('c')!.release();
    await flush();
    expect(r.got).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(g.stats()).toMatchObject({ launching: 2, waiting: 0, reason: null });
  });

  it('waits for memory with the figures as reason, counting launches not measurable yet, and admits when room appears', async () => {
    const mem = fakeMemory(300);
    mem.set('old', 300);
    const { g, waits, admits } = gate(mem, { limit: 10 });
    const r = requestAll(g, ['a', 'b', 'c']);
    await flush();
    // 300 measured + 300 expected fits (600); + a's 300 pending + 300 fits (900); a third would be 1200 > 1000.
    expect(r.got).toEqual(['a', 'b']);
    expect(g.waiting('c')).toMatchObject({ wait: 'memory', reason: 'fleet memory 300 MiB + 600 MiB launching + 300 MiB expected > 95% of cap 1000 MiB', position: 1 });
    expect(waits).toEqual(['c']);

    // a's browser is measured now, at its expected size: still no room after it finishes.
    mem.set('a', 300);
    r.tickets.get('a')!.release();
    await flush();
    expect(r.got).toEqual(['a', 'b']);
    // The old instance goes: room for one.
    mem.drop('old');
    g.poke();
    await flush();
    expect(r.got).toEqual(['a', 'b', 'c']);
    expect(admits).toEqual(['c']);
  });

  it('a launch already measured in part is counted once: measured + what it still lacks of the expected cost', async () => {
    const mem = fakeMemory(300);
    const { g } = gate(mem, { limit: 10 });
    const r = requestAll(g, ['a', 'b', 'c']);
    await flush();
    expect(r.got).toEqual(['a', 'b', 'c']);
    mem.set('a', 100);
    mem.set('b', 100);
    mem.set('c', 100);
    // Measured 300 + pending 3 × 200 + 300 expected = 1200 > 1000: d waits; not 300 + 900 + 300.
    const d = requestAll(g, ['d']);
    await flush();
    expect(g.waiting('d')?.reason).toBe('fleet memory 300 MiB + 600 MiB launching + 300 MiB expected > 95% of cap 1000 MiB');
    expect(d.got).toEqual([]);
  });

  it('at the critical level nothing is admitted, whatever one more would cost', async () => {
    const mem = fakeMemory(1);
    mem.set('big', 960);
    const { g } = gate(mem);
    const r = requestAll(g, ['a']);
    await flush();
    expect(r.got).toEqual([]);
    expect(g.waiting('a')?.wait).toBe('critical');
    expect(g.memoryRefusal()).toBe('fleet memory 960 MiB is 96% of its cap 1000 MiB (critical at 95%)');
    mem.set('big', 900);
    g.poke();
    await flush();
    expect(r.got).toEqual(['a']);
    expect(g.memoryRefusal()).toBeNull();
  });

  it('never lets a younger start overtake an older one that waits for memory', async () => {
    const mem = fakeMemory(100);
    mem.set('x', 920);
    const { g } = gate(mem);
    const r = requestAll(g, ['a', 'b']);
    await flush();
    expect(r.got).toEqual([]);
    // Room for one: the oldest goes, the next still waits.
    mem.set('x', 850);
    g.poke();
    await flush();
    expect(r.got).toEqual(['a']);
    expect(g.waiting('b')).toMatchObject({ position: 1, wait: 'memory' });
  });

  it('cancel takes a waiting start out of the queue (its request resolves null) and the next moves up', async () => {
    const mem = fakeMemory(10);
    const { g } = gate(mem, { limit: 1 });
    const r = requestAll(g, ['a', 'b', 'c']);
    await flush();
    g.cancel('b');
    await flush();
    expect(r.tickets.get('b')).toBeNull();
    expect(g.waiting('c')?.position).toBe(1);
    g.cancel('nobody');
    r.tickets.get('a')!.release();
    await flush();
    expect(r.got).toEqual(['a', 'c']);
  });

  it('a second request of a waiting instance replaces the first without losing its place', async () => {
    const mem = fakeMemory(10);
    const { g } = gate(mem, { limit: 1 });
    const r = requestAll(g, ['a', 'b', 'c']);
    const again = g.request('b');
    expect(again.queued).toBe(true);
    await flush();
    expect(r.tickets.get('b')).toBeNull();
    expect(g.waiting('b')?.position).toBe(1);
    r.tickets.get('a')!.release();
    expect(await again.ticket).not.toBeNull();
    expect(g.waiting('c')?.position).toBe(1);
  });

  it('close (shutdown) empties the queue and admits nothing more', async () => {
    const mem = fakeMemory(10);
    const { g } = gate(mem, { limit: 1 });
    const r = requestAll(g, ['a', 'b', 'c']);
    await flush();
    g.close();
    await flush();
    expect(r.tickets.get('b')).toBeNull();
    expect(r.tickets.get('c')).toBeNull();
    expect(g.stats().waiting).toBe(0);
    const late = g.request('d');
    expect(late.queued).toBe(false);
    expect(await late.ticket).toBeNull();
    r.tickets.get('a')!.release();
  });

  it('decides a waiting queue again every retryMs without any event, and stops its timer once the queue is empty', async () => {
    vi.useFakeTimers();
    const mem = fakeMemory(100);
    mem.set('x', 950);
    const { g } = gate(mem, { retryMs: 1_000 });
    const r = requestAll(g, ['a']);
    await vi.advanceTimersByTimeAsync(0);
    const calls = mem.state.calls;
    await vi.advanceTimersByTimeAsync(3_000);
    expect(mem.state.calls - calls).toBe(3);
    mem.drop('x');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(r.got).toEqual(['a']);
    const after = mem.state.calls;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(mem.state.calls).toBe(after);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('asks for a fresh measurement after a launch finishes (its browser is measurable now), a cached one otherwise', async () => {
    const mem = fakeMemory(10);
    const { g } = gate(mem, { limit: 1 });
    const r = requestAll(g, ['a', 'b', 'c']);
    await flush();
    const fresh = mem.state.fresh;
    g.cancel('c'); // an event that frees no memory: a cached reading will do
    expect(mem.state.fresh).toBe(fresh);
    r.tickets.get('a')!.release();
    expect(mem.state.fresh).toBe(fresh + 1);
  });

  it('refuses a limit below one', () => {
    expect(() => gate(fakeMemory(), { limit: 0 })).toThrow(RangeError);
  });
});
