import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../lib/backoff.js';

const noJitter = () => 0;
const opts = { baseMs: 1000, maxMs: 60_000, jitterMs: 500 };

describe('backoffDelay', () => {
  it.each([
    [0, 1000],
    [1, 1500],
    [2, 2250],
    [3, 3375],
  ])('grows by the default factor 1.5: attempt %i -> %i ms', (attempt, expected) => {
    expect(backoffDelay(attempt, opts, noJitter)).toBeCloseTo(expected, 9);
  });

  it('uses the given factor', () => {
    expect(backoffDelay(3, { ...opts, factor: 2 }, noJitter)).toBe(8000);
    expect(backoffDelay(5, { ...opts, factor: 1 }, noJitter)).toBe(1000);
  });

  it('caps the exponential part at maxMs', () => {
    expect(backoffDelay(20, opts, noJitter)).toBe(60_000);
  });

  it('adds random() * jitterMs on top, also above the cap', () => {
    expect(backoffDelay(0, opts, () => 0.5)).toBe(1250);
    expect(backoffDelay(20, opts, () => 0.999)).toBeCloseTo(60_499.5, 9);
  });

  it('stays finite for huge attempt numbers, even with a zero base', () => {
    expect(backoffDelay(100_000, opts, noJitter)).toBe(60_000);
    expect(backoffDelay(100_000, { ...opts, baseMs: 0 }, noJitter)).toBe(0);
  });

  it('stays within [capped, capped + jitter) with the real Math.random', () => {
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelay(1, opts);
      expect(delay).toBeGreaterThanOrEqual(1500);
      expect(delay).toBeLessThan(2000);
    }
  });

  it.each([
    ['attempt', -1, {}],
    ['attempt', Number.NaN, {}],
    ['attempt', Number.POSITIVE_INFINITY, {}],
    ['baseMs', 0, { baseMs: -5 }],
    ['maxMs', 0, { maxMs: Number.NaN }],
    ['jitterMs', 0, { jitterMs: -1 }],
    ['factor', 0, { factor: 0.5 }],
    ['factor', 0, { factor: Number.POSITIVE_INFINITY }],
  ])('rejects an invalid %s with a RangeError naming it', (name, attempt, override) => {
    expect(() => backoffDelay(attempt, { ...opts, ...override }, noJitter)).toThrow(RangeError);
    expect(() => backoffDelay(attempt, { ...opts, ...override }, noJitter)).toThrow(name);
  });
});
