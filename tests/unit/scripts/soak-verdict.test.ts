import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../lib/seeded-random.js';
import type { TrendSample } from '../../../lib/trend.js';
import { pidChanges, soakVerdict, verdictLabel } from '../../../scripts/soak/verdict.js';

const MIB = 1024 ** 2;
const START = Date.UTC(2025, 0, 1);
const SAMPLE_MS = 10_000;

/** A 30-minute soak sampled every 10 s: value in MiB as f(hours since start), returned in bytes. */
function soak(f: (hours: number) => number, minutes = 30): TrendSample[] {
  const n = (minutes * 60_000) / SAMPLE_MS + 1;
  return Array.from({ length: n }, (_, i) => ({ t: START + i * SAMPLE_MS, v: f((i * SAMPLE_MS) / 3_600_000) * MIB }));
}

/** Uniform noise of ±amplitude/2 MiB. */
function noise(seed: number, amplitude: number): () => number {
  const random = seededRandom(seed);
  return () => (random() - 0.5) * amplitude;
}

describe('soakVerdict', () => {
  it('does not flag a flat series with GC-like noise of several MiB', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const jitter = noise(seed, 8);
      const v = soakVerdict(soak(() => 90 + jitter()));
      expect(v.judged).toBe(true);
      expect(v.growing).toBe(false);
      expect(verdictLabel(v)).toBe('flat');
      expect(Math.abs(v.slopeMiBPerHour)).toBeLessThan(2 * v.spreadMiBPerHour + 1);
    }
  });

  it('flags a steady climb of 40 MiB/h under the same noise, and reports slope and spread', () => {
    const jitter = noise(7, 8);
    const v = soakVerdict(soak((h) => 90 + 40 * h + jitter()));
    expect(v.growing).toBe(true);
    expect(verdictLabel(v)).toBe('GROWING');
    expect(v.slopeMiBPerHour).toBeGreaterThan(35);
    expect(v.slopeMiBPerHour).toBeLessThan(45);
    expect(v.spreadMiBPerHour).toBeGreaterThan(0);
    expect(v.spreadMiBPerHour).toBeLessThan(5);
    expect(v.n).toBe(181);
  });

  it('does not flag a clean climb slower than the floor (5 MiB/h against 10)', () => {
    const v = soakVerdict(soak((h) => 90 + 5 * h));
    expect(v.slopeMiBPerHour).toBeCloseTo(5, 6);
    expect(v.growing).toBe(false);
    expect(v.reason).toMatch(/below threshold 10 MiB\/h/);
  });

  it('flags that same slow climb when the floor is lowered below it', () => {
    const v = soakVerdict(soak((h) => 90 + 5 * h), { floorMiBPerHour: 2, minSamples: 4 });
    expect(v.growing).toBe(true);
  });

  it('does not flag a single step followed by a plateau (a cache filled once), though its slope is high', () => {
    const jitter = noise(11, 2);
    const v = soakVerdict(soak((h) => (h < 0.1 ? 90 : 130) + jitter()));
    expect(v.slopeMiBPerHour).toBeGreaterThan(10);
    expect(v.growing).toBe(false);
    expect(verdictLabel(v)).toBe('flat');
    expect(v.reason).toMatch(/not sustained/);
  });

  it('does not judge fewer than four samples', () => {
    for (const n of [0, 1, 2, 3]) {
      const samples = Array.from({ length: n }, (_, i) => ({ t: START + i * SAMPLE_MS, v: (90 + 100 * i) * MIB }));
      const v = soakVerdict(samples);
      expect(v.judged).toBe(false);
      expect(v.growing).toBe(false);
      expect(verdictLabel(v)).toBe('not judged');
      expect(v.n).toBe(n);
    }
  });

  it('takes start and end from the earliest and latest sample whatever the order given', () => {
    const samples = soak((h) => 90 + 40 * h, 1).reverse();
    const v = soakVerdict(samples);
    expect(v.startBytes).toBe(90 * MIB);
    expect(v.endBytes).toBeCloseTo((90 + 40 / 60) * MIB, 0);
    expect(soakVerdict([]).startBytes).toBeNull();
  });

  it('does not judge samples all taken at one instant', () => {
    const v = soakVerdict([1, 2, 3, 4, 5].map((m) => ({ t: START, v: m * MIB })));
    expect(v.judged).toBe(false);
    expect(v.growing).toBe(false);
  });
});

describe('pidChanges', () => {
  it('counts each change of worker pid as a restart and skips samples without a worker', () => {
    expect(pidChanges([])).toBe(0);
    expect(pidChanges([10, 10, 10])).toBe(0);
    expect(pidChanges([10, null, 10])).toBe(0);
    expect(pidChanges([10, 10, null, 11, 11, 12])).toBe(2);
  });
});
