import { describe, expect, it } from 'vitest';
import { judgeSupervisorMemory, type LifeSample } from '../../../scripts/chaos/supervisor-memory.js';

const MIB = 1024 ** 2;
const MIN = 60_000;

/** One sample a minute for `minutes`, in life `life`, PSS from `mib(i)`. */
function life(n: number, startMin: number, minutes: number, mib: (i: number) => number): LifeSample[] {
  return Array.from({ length: minutes }, (_, i) => ({ t: (startMin + i) * MIN, v: mib(i) * MIB, life: n }));
}

describe('the chaos run’s supervisor memory verdict', () => {
  it('does not call the warm-up climb of many short lives growth', () => {
    // Restarted every 3 minutes, each life climbing 60 → 80 MiB: the peaks stay where they were.
    const samples = Array.from({ length: 10 }, (_, n) => life(n, n * 3, 3, (i) => 60 + i * 10)).flat();
    const verdict = judgeSupervisorMemory(samples);
    expect(verdict.violations).toEqual([]);
    expect(verdict.longestLife).toBeNull();
  });

  it('flags peaks that rise through the run', () => {
    const samples = Array.from({ length: 9 }, (_, n) => life(n, n * 3, 3, (i) => 60 + n * 10 + i)).flat();
    const verdict = judgeSupervisorMemory(samples);
    expect(verdict.violations).toHaveLength(1);
    expect(verdict.violations[0]).toMatch(/peaks rose through the run: 82 MiB in the first third, 142 MiB in the last/);
  });

  it('leaves small rises of the peaks alone (under 10 MiB or 10 %)', () => {
    const samples = Array.from({ length: 9 }, (_, n) => life(n, n * 3, 3, (i) => 100 + n + i)).flat();
    const verdict = judgeSupervisorMemory(samples);
    expect(verdict.violations).toEqual([]);
    expect(verdict.summary).toMatch(/^supervisor memory passed/);
  });

  it('flags the climb the old 20 MiB and 20 % rule let through (105 → 124 MiB)', () => {
    const samples = Array.from({ length: 9 }, (_, n) => life(n, n * 3, 3, () => (n <= 2 ? 105 : n >= 6 ? 124 : 115))).flat();
    const verdict = judgeSupervisorMemory(samples);
    expect(verdict.violations[0]).toMatch(/peaks rose through the run: 105 MiB in the first third, 124 MiB in the last/);
    expect(verdict.summary).toMatch(/^supervisor memory FAILED/);
  });

  it('judges a long life on its own, after its warm-up, as the soak does', () => {
    const rising = judgeSupervisorMemory(life(0, 0, 30, (i) => 60 + i * 2));
    expect(rising.longestLife?.growing).toBe(true);
    expect(rising.violations.some((v) => /grows .* MiB\/h over 29 samples of one life/.test(v))).toBe(true);
    const flat = judgeSupervisorMemory(life(0, 0, 30, (i) => 60 + (i % 2)));
    expect(flat.longestLife?.growing).toBe(false);
    expect(flat.violations).toEqual([]);
  });

  it('does not compare the peaks of a run shorter than a judged life (the first third is only the warm-up)', () => {
    // A two-fault run: linked, one restart, and the samples climb from warm-up to working size.
    const samples = [...life(0, 0, 2, (i) => 70 + i * 3), ...life(1, 2, 3, (i) => 80 + i * 8)];
    const verdict = judgeSupervisorMemory(samples);
    expect(verdict.violations).toEqual([]);
    // Nothing judged is no pass: the run says so.
    expect(verdict.judged).toBe(false);
    expect(verdict.summary).toMatch(/^supervisor memory NOT JUDGED: the run lasted 4\.0 min and no life 10 min/);
  });

  it('judges nothing without samples, and says so', () => {
    expect(judgeSupervisorMemory([])).toMatchObject({ firstThirdMaxBytes: null, lastThirdMaxBytes: null, longestLife: null, judged: false, violations: [] });
  });
});
