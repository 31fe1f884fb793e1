import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../lib/seeded-random.js';
import { detectLeak, linearTrend, type LeakRule, type TrendSample } from '../../../lib/trend.js';

const HOUR = 3_600_000;
const MB = 1024 * 1024;
const START = Date.UTC(2025, 0, 1);

/** One sample a minute for `hours`, value f(hours since start). */
function series(hours: number, f: (h: number) => number): TrendSample[] {
  return Array.from({ length: hours * 60 + 1 }, (_, i) => ({ t: START + (i * HOUR) / 60, v: f(i / 60) }));
}

/** Uniform noise of +-amplitude/2 from a seeded generator. */
function noise(seed: number, amplitude: number): () => number {
  const random = seededRandom(seed);
  return () => (random() - 0.5) * amplitude;
}

const rule: LeakRule = { minSamples: 30, minSpanMs: 2 * HOUR, slopeThresholdPerHour: 10 * MB };

describe('linearTrend', () => {
  it('fits a known small dataset', () => {
    const samples = [1, 3, 2, 4].map((v, i) => ({ t: i * HOUR, v }));
    const trend = linearTrend(samples);
    expect(trend.n).toBe(4);
    expect(trend.slopePerHour).toBeCloseTo(0.8, 12);
    expect(trend.intercept).toBeCloseTo(1.3, 12);
    expect(trend.r2).toBeCloseTo(0.64, 12);
    expect(trend.slopeStdErrPerHour).toBeCloseTo(Math.sqrt(0.18), 12);
  });

  it('measures the intercept at the earliest sample, whatever the epoch and order', () => {
    const samples = [3, 0, 2, 1].map((i) => ({ t: START + i * HOUR, v: 100 + 5 * i }));
    const trend = linearTrend(samples);
    expect(trend.slopePerHour).toBeCloseTo(5, 9);
    expect(trend.intercept).toBeCloseTo(100, 9);
    expect(trend.r2).toBeCloseTo(1, 12);
    expect(trend.slopeStdErrPerHour).toBeCloseTo(0, 9);
  });

  it('reports a zero slope and r2 0 for a constant series', () => {
    const trend = linearTrend(series(1, () => 42));
    expect(trend.slopePerHour).toBe(0);
    expect(trend.intercept).toBe(42);
    expect(trend.r2).toBe(0);
    expect(trend.slopeStdErrPerHour).toBe(0);
  });

  it('has a slope but no standard error for exactly two samples', () => {
    const trend = linearTrend([
      { t: 0, v: 0 },
      { t: HOUR / 2, v: 3 },
    ]);
    expect(trend.slopePerHour).toBe(6);
    expect(trend.slopeStdErrPerHour).toBeNaN();
  });

  it.each([
    ['no samples', []],
    ['one sample', [{ t: 0, v: 1 }]],
    [
      'samples all at one instant',
      [
        { t: 5, v: 1 },
        { t: 5, v: 2 },
      ],
    ],
  ])('returns NaN fields for %s', (_, samples: TrendSample[]) => {
    const trend = linearTrend(samples);
    expect(trend.n).toBe(samples.length);
    expect(trend.slopePerHour).toBeNaN();
    expect(trend.intercept).toBeNaN();
    expect(trend.r2).toBeNaN();
  });

  it('rejects non-finite samples with a RangeError naming the index', () => {
    expect(() => linearTrend([{ t: 0, v: 1 }, { t: 1, v: Number.NaN }])).toThrow(/sample 1/);
    expect(() => linearTrend([{ t: Infinity, v: 1 }])).toThrow(RangeError);
  });
});

describe('detectLeak', () => {
  it('does not flag a flat series', () => {
    const verdict = detectLeak(series(6, () => 500 * MB), rule);
    expect(verdict.suspected).toBe(false);
    expect(verdict.slopePerHour).toBe(0);
    expect(verdict.reason).toMatch(/below threshold/);
  });

  it.each([1, 2, 3, 4, 5])('does not flag a noisy flat series (seed %i)', (seed) => {
    const jitter = noise(seed, 60 * MB);
    const verdict = detectLeak(series(6, () => 500 * MB + jitter()), rule);
    expect(verdict.suspected).toBe(false);
    expect(Math.abs(verdict.slopePerHour)).toBeLessThan(rule.slopeThresholdPerHour);
  });

  it('does not flag noise that happens to tilt above the threshold: the slope is within its error', () => {
    // Seed 9 gives 8 wide-noise samples over an hour whose fitted slope exceeds the threshold by chance.
    const jitter = noise(9, 40);
    const samples = Array.from({ length: 8 }, (_, i) => ({ t: START + (i * HOUR) / 7, v: 100 + jitter() }));
    const verdict = detectLeak(samples, { minSamples: 4, minSpanMs: 0, slopeThresholdPerHour: 10 });
    expect(verdict.slopePerHour).toBeGreaterThan(10);
    expect(verdict.suspected).toBe(false);
    expect(verdict.reason).toMatch(/within noise/);
  });

  it('flags steady linear growth above the threshold, with modest noise', () => {
    const jitter = noise(7, 4 * MB);
    const verdict = detectLeak(series(6, (h) => 500 * MB + 20 * MB * h + jitter()), rule);
    expect(verdict.suspected).toBe(true);
    expect(verdict.slopePerHour / MB).toBeCloseTo(20, 0);
    expect(verdict.reason).toMatch(/sustained rise/);
  });

  it('flags growth in small steps that keeps going through the whole window', () => {
    // +8 MB every 20 minutes: a staircase, but one that never stops climbing (24 MB/h).
    const verdict = detectLeak(series(6, (h) => 500 * MB + 8 * MB * Math.floor(h * 3)), rule);
    expect(verdict.suspected).toBe(true);
  });

  it('does not flag slow growth below the threshold', () => {
    const verdict = detectLeak(series(6, (h) => 500 * MB + 5 * MB * h), rule);
    expect(verdict.suspected).toBe(false);
    expect(verdict.slopePerHour / MB).toBeCloseTo(5, 6);
    expect(verdict.reason).toMatch(/below threshold/);
  });

  it.each([0.1, 0.3, 0.5, 0.7, 0.9])('does not flag a single step (jump then flat) at %s of the window', (at) => {
    const jitter = noise(11, 2 * MB);
    const samples = series(6, (h) => (h < 6 * at ? 500 : 700) * MB + jitter());
    const verdict = detectLeak(samples, rule);
    expect(verdict.suspected).toBe(false);
  });

  it('explains a rejected step by the half that stayed flat, though the overall slope is above the threshold', () => {
    const verdict = detectLeak(series(6, (h) => (h < 2 ? 500 : 700) * MB), rule);
    expect(verdict.slopePerHour).toBeGreaterThan(rule.slopeThresholdPerHour);
    expect(verdict.suspected).toBe(false);
    expect(verdict.reason).toMatch(/rise not sustained/);
  });

  it('does not flag growth that levels off (a cache warming up)', () => {
    const verdict = detectLeak(series(6, (h) => 500 * MB + 200 * MB * (1 - Math.exp(-h / 0.75))), rule);
    expect(verdict.slopePerHour).toBeGreaterThan(rule.slopeThresholdPerHour);
    expect(verdict.suspected).toBe(false);
    expect(verdict.reason).toMatch(/rise not sustained/);
  });

  it('does not judge too few samples, however steep', () => {
    const samples = Array.from({ length: 10 }, (_, i) => ({ t: START + i * HOUR, v: i * 100 * MB }));
    const verdict = detectLeak(samples, { ...rule, minSamples: 20 });
    expect(verdict.suspected).toBe(false);
    expect(verdict.reason).toBe('only 10 samples, need 20');
  });

  it('needs at least 4 samples whatever minSamples says, so each half has two', () => {
    const samples = [0, 1, 2].map((i) => ({ t: START + i * HOUR, v: i * 100 }));
    const verdict = detectLeak(samples, { minSamples: 0, minSpanMs: 0, slopeThresholdPerHour: 1 });
    expect(verdict.suspected).toBe(false);
    expect(verdict.reason).toBe('only 3 samples, need 4');
  });

  it('does not judge a window shorter than minSpanMs, however steep', () => {
    const samples = Array.from({ length: 100 }, (_, i) => ({ t: START + i * 6000, v: i * 10 * MB }));
    const verdict = detectLeak(samples, rule);
    expect(verdict.suspected).toBe(false);
    expect(verdict.reason).toMatch(/window spans 594000 ms, need 7200000 ms/);
  });

  it('gives the same verdict whatever the order of the samples', () => {
    const samples = series(6, (h) => 500 * MB + 20 * MB * h);
    const shuffled = [...samples].reverse();
    const inOrder = detectLeak(samples, rule);
    const reversed = detectLeak(shuffled, rule);
    expect(reversed.suspected).toBe(true);
    expect(reversed.reason).toBe(inOrder.reason);
    expect(reversed.slopePerHour).toBeCloseTo(inOrder.slopePerHour, 3);
  });

  it.each(['minSamples', 'minSpanMs', 'slopeThresholdPerHour'] as const)(
    'rejects a negative %s with a RangeError naming it',
    (key) => {
      expect(() => detectLeak([], { ...rule, [key]: -1 })).toThrow(key);
    },
  );
});
