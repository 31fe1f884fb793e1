import { describe, expect, it } from 'vitest';
import {
  BYTES_PER_MB,
  decideMemory,
  type InstanceMemorySample,
  type MemoryPolicyInput,
} from '../../../src/checks/memory-policy.js';
import type { TrendSample } from '../../../lib/trend.js';

const MB = BYTES_PER_MB;
const MIN = 60_000;
const HOUR = 60 * MIN;
const NOW = Date.UTC(2025, 0, 1, 12);

/** One sample every 30 s over the `minutes` before NOW; f gets minutes since the first sample, returns MB. */
function history(minutes: number, f: (m: number) => number, end = NOW): TrendSample[] {
  return Array.from({ length: minutes * 2 + 1 }, (_, i) => ({ t: end - minutes * MIN + i * 30_000, v: f(i / 2) * MB }));
}

const flat = (mb: number) => history(60, () => mb);

/** A running instance whose browser holds `mb` (worker 0) with a flat history at that level. */
function instance(id: string, mb: number, extra: Partial<InstanceMemorySample> = {}): InstanceMemorySample {
  return { id, running: true, workerPssBytes: 0, browserPssBytes: mb * MB, pageHeapBytes: null, history: flat(mb), ...extra };
}

/** The defaults: INSTANCE_MEMORY_CAP_MB 500, FLEET_MEMORY_CAP_MB 2048, 80/95 %, LEAK_* 50 MB/h, 10 samples, 1 h. */
function input(instances: InstanceMemorySample[], extra: Partial<MemoryPolicyInput> = {}): MemoryPolicyInput {
  return {
    now: NOW,
    instances,
    capInstanceBytes: 500 * MB,
    capFleetBytes: 2048 * MB,
    warnPercent: 80,
    criticalPercent: 95,
    leak: { slopeThresholdMbPerHour: 50, minSamples: 10, windowMs: HOUR },
    ...extra,
  };
}

function only(sample: InstanceMemorySample, extra: Partial<MemoryPolicyInput> = {}) {
  const decision = decideMemory(input([sample], extra)).instances[0];
  if (!decision) throw new Error('no decision for the instance');
  return decision;
}

describe('decideMemory: leaks', () => {
  it('a flat but large instance is not a leak', () => {
    const d = only(instance('big', 450));
    expect(d).toMatchObject({ totalBytes: 450 * MB, leakSuspected: false, action: 'none' });
    expect(d.trendMbPerHour).toBeCloseTo(0, 6);
  });

  it('a small instance growing steadily faster than the threshold is a leak', () => {
    const d = only(instance('small', 100, { history: history(60, (m) => 40 + 2 * m) })); // 120 MB/h
    expect(d).toMatchObject({ leakSuspected: true, action: 'restart_leak' });
    expect(d.trendMbPerHour).toBeCloseTo(120, 6);
    expect(d.leakReason).toMatch(/^sustained rise of 120\/h/);
  });

  it('growth below the threshold is not a leak', () => {
    const d = only(instance('slow', 100, { history: history(60, (m) => 100 + m / 3) })); // 20 MB/h
    expect(d).toMatchObject({ leakSuspected: false, action: 'none' });
    expect(d.trendMbPerHour).toBeCloseTo(20, 6);
    expect(d.leakReason).toMatch(/below threshold 50\/h/);
  });

  it('a single step up (a cache filling once) is not a leak', () => {
    const d = only(instance('step', 160, { history: history(60, (m) => (m < 40 ? 100 : 160)) }));
    expect(d).toMatchObject({ leakSuspected: false, action: 'none' });
    expect(d.leakReason).toMatch(/not sustained/);
  });

  it('only judges history inside the window: old growth that has stopped is not a leak', () => {
    const old = history(60, (m) => 100 + 2 * m, NOW - HOUR - MIN);
    const d = only(instance('settled', 220, { history: [...old, ...flat(220)] }));
    expect(d).toMatchObject({ leakSuspected: false, action: 'none' });
    expect(d.trendMbPerHour).toBeCloseTo(0, 6);
  });

  it('needs the in-window history to span half the window by default', () => {
    const recent = history(10, (m) => 100 + 2 * m); // 120 MB/h, but only 10 minutes of it
    expect(only(instance('young', 120, { history: recent }))).toMatchObject({ leakSuspected: false, action: 'none' });
    const shortSpan = { slopeThresholdMbPerHour: 50, minSamples: 10, windowMs: HOUR, minSpanMs: 5 * MIN };
    expect(only(instance('young', 120, { history: recent }), { leak: shortSpan })).toMatchObject({ leakSuspected: true, action: 'restart_leak' });
  });

  it('needs minSamples samples', () => {
    const sparse = history(60, (m) => 100 + 2 * m).filter((_, i) => i % 20 === 0); // 7 samples
    const d = only(instance('sparse', 220, { history: sparse }));
    expect(d).toMatchObject({ leakSuspected: false, action: 'none', leakReason: 'only 7 samples, need 10' });
  });
});

describe('decideMemory: the per-instance cap', () => {
  it('exactly at the cap is not over it', () => {
    expect(only(instance('at', 500))).toMatchObject({ totalBytes: 500 * MB, capUsedPercent: 100, action: 'none' });
  });

  it('one byte over the cap is restarted', () => {
    const d = only(instance('over', 500, { browserPssBytes: 500 * MB + 1 }));
    expect(d.action).toBe('restart_over_cap');
    expect(d.capUsedPercent).toBeGreaterThan(100);
  });

  it('counts worker and browser PSS together, but not the page heap (already inside the browser)', () => {
    const d = only(instance('sum', 0, { workerPssBytes: 150 * MB, browserPssBytes: 250 * MB, pageHeapBytes: 90 * MB }));
    expect(d).toMatchObject({ totalBytes: 400 * MB, capUsedPercent: 80, workerPssBytes: 150 * MB, browserPssBytes: 250 * MB, pageHeapBytes: 90 * MB });
  });

  it('over the cap wins over a leak', () => {
    const d = only(instance('both', 600, { history: history(60, (m) => 480 + 2 * m) }));
    expect(d).toMatchObject({ leakSuspected: true, action: 'restart_over_cap' });
  });
});

describe('decideMemory: missing samples', () => {
  it('a missing worker sample counts 0 and the browser alone is judged', () => {
    expect(only(instance('half', 300, { workerPssBytes: null }))).toMatchObject({ totalBytes: 300 * MB, action: 'none' });
  });

  it('no sample at all is 0 bytes, no trend, and no action', () => {
    const d = only({ id: 'blank', running: true, workerPssBytes: null, browserPssBytes: null, pageHeapBytes: null, history: [] });
    expect(d).toMatchObject({ totalBytes: 0, capUsedPercent: 0, trendMbPerHour: null, leakSuspected: false, action: 'none' });
    expect(d.leakReason).toBe('only 0 samples, need 10');
  });

  it('non-finite history points are dropped instead of failing the whole decision', () => {
    const holes = history(60, (m) => 40 + 2 * m).map((s, i) => (i % 10 === 0 ? { t: s.t, v: NaN } : s));
    expect(only(instance('holes', 100, { history: holes }))).toMatchObject({ leakSuspected: true, action: 'restart_leak' });
  });

  it('an instance that is not running counts 0 and is never restarted, whatever its samples say', () => {
    const d = only(instance('stopped', 900, { running: false, history: history(60, (m) => 100 + 5 * m) }));
    expect(d).toMatchObject({ running: false, totalBytes: 0, trendMbPerHour: null, leakSuspected: false, leakReason: 'not running', action: 'none' });
  });
});

describe('decideMemory: the fleet', () => {
  /** A fleet cap of 1000 MB makes the percentages exact: 800 MB is 80 %. */
  const fleetOf = (...mbs: number[]) => input(mbs.map((mb, i) => instance(`i${i}`, mb)), { capFleetBytes: 1000 * MB });

  it.each([
    ['one byte under warn', 800 * MB - 1, 'ok'],
    ['exactly at warn', 800 * MB, 'warn'],
    ['one byte under critical', 950 * MB - 1, 'warn'],
    ['exactly at critical', 950 * MB, 'critical'],
  ] as const)('%s is %s', (_name, bytes, level) => {
    const decision = decideMemory(input([instance('a', 0, { browserPssBytes: bytes })], { capFleetBytes: 1000 * MB }));
    expect(decision.fleet).toMatchObject({ totalBytes: bytes, capBytes: 1000 * MB, level });
    expect(decision.refuseNewStarts).toBe(level === 'critical');
  });

  it('sums the running instances and reports the percentage used', () => {
    const decision = decideMemory(fleetOf(100, 200, 300));
    expect(decision.fleet).toEqual({ totalBytes: 600 * MB, capBytes: 1000 * MB, usedPercent: 60, level: 'ok' });
    expect(decision.refuseNewStarts).toBe(false);
  });

  it('warn only sets the level: nothing is restarted and starts are allowed', () => {
    const decision = decideMemory(fleetOf(300, 300, 250));
    expect(decision.fleet.level).toBe('warn');
    expect(decision.refuseNewStarts).toBe(false);
    expect(decision.instances.map((i) => i.action)).toEqual(['none', 'none', 'none']);
  });

  it('critical refuses new starts and restarts the largest running instance only', () => {
    const decision = decideMemory(fleetOf(300, 400, 260));
    expect(decision.fleet.level).toBe('critical');
    expect(decision.refuseNewStarts).toBe(true);
    expect(decision.instances.map((i) => i.action)).toEqual(['none', 'restart_largest', 'none']);
  });

  it('critical: a tie for the largest goes to the first in input order', () => {
    expect(decideMemory(fleetOf(350, 350, 300)).instances.map((i) => i.action)).toEqual(['restart_largest', 'none', 'none']);
  });

  it('critical: no second restart when the largest is already restarting over its cap', () => {
    const decision = decideMemory(input([instance('a', 300), instance('b', 520), instance('c', 200)], { capFleetBytes: 1000 * MB }));
    expect(decision.instances.map((i) => i.action)).toEqual(['none', 'restart_over_cap', 'none']);
  });

  it('critical: no second restart when the largest is already restarting for a leak', () => {
    const leaking = instance('b', 450, { history: history(60, (m) => 330 + 2 * m) });
    const decision = decideMemory(input([instance('a', 300), leaking, instance('c', 220)], { capFleetBytes: 1000 * MB }));
    expect(decision.instances.map((i) => i.action)).toEqual(['none', 'restart_leak', 'none']);
  });

  it('critical: a leaking smaller instance does not spare the largest', () => {
    const leaking = instance('b', 200, { history: history(60, (m) => 80 + 2 * m) });
    const decision = decideMemory(input([instance('a', 450), leaking, instance('c', 320)], { capFleetBytes: 1000 * MB }));
    expect(decision.instances.map((i) => i.action)).toEqual(['restart_largest', 'restart_leak', 'none']);
  });

  it('stopped instances neither count towards the fleet nor get picked as the largest', () => {
    const stopped = instance('gone', 900, { running: false });
    const decision = decideMemory(input([stopped, instance('a', 500), instance('b', 460)], { capFleetBytes: 1000 * MB }));
    expect(decision.fleet.totalBytes).toBe(960 * MB);
    expect(decision.instances.map((i) => i.action)).toEqual(['none', 'restart_largest', 'none']);
  });
});

describe('decideMemory: settings', () => {
  it('rejects caps and thresholds that cannot work, naming them', () => {
    expect(() => decideMemory(input([], { capInstanceBytes: 0 }))).toThrow(/capInstanceBytes/);
    expect(() => decideMemory(input([], { capFleetBytes: NaN }))).toThrow(/capFleetBytes/);
    expect(() => decideMemory(input([], { warnPercent: 96 }))).toThrow(/warnPercent \(96\) must not exceed criticalPercent \(95\)/);
    expect(() => decideMemory(input([], { leak: { slopeThresholdMbPerHour: 50, minSamples: 10, windowMs: 0 } }))).toThrow(/leak\.windowMs/);
  });

  it('an empty fleet is ok and allows starts', () => {
    expect(decideMemory(input([]))).toEqual({
      fleet: { totalBytes: 0, capBytes: 2048 * MB, usedPercent: 0, level: 'ok' },
      instances: [],
      refuseNewStarts: false,
    });
  });
});
