import { describe, expect, it } from 'vitest';
import { nextSendAt, type PacingInput } from '../../../src/messages/pacing.js';

const NOW = 1_800_000_000_000;

function input(overrides: Partial<PacingInput> = {}): PacingInput {
  return { now: NOW, lastSendAt: null, recentSendTimes: [], minIntervalMs: 1000, jitterMs: 1000, maxPerMinute: 30, random: () => 0.5, ...overrides };
}

/** A small seeded generator (mulberry32): the property runs are random, and reproducible from their seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('nextSendAt', () => {
  it('lets the first send go at once', () => {
    expect(nextSendAt(input())).toBe(NOW);
  });

  it('spaces a send by minIntervalMs plus floor(random() * jitterMs) after the last one', () => {
    expect(nextSendAt(input({ lastSendAt: NOW - 200, random: () => 0.5 }))).toBe(NOW - 200 + 1000 + 500);
    expect(nextSendAt(input({ lastSendAt: NOW - 200, random: () => 0 }))).toBe(NOW + 800);
    expect(nextSendAt(input({ lastSendAt: NOW - 200, random: () => 0.9999 }))).toBe(NOW - 200 + 1000 + 999);
  });

  it('does not wait when the interval has passed already', () => {
    expect(nextSendAt(input({ lastSendAt: NOW - 5000 }))).toBe(NOW);
  });

  it('does not wait, nor draw a random number, with no interval and no jitter', () => {
    let draws = 0;
    const random = () => {
      draws++;
      return 0.5;
    };
    expect(nextSendAt(input({ lastSendAt: NOW, minIntervalMs: 0, jitterMs: 0, random }))).toBe(NOW);
    expect(draws).toBe(0);
  });

  it('applies jitter alone when the interval is 0', () => {
    expect(nextSendAt(input({ lastSendAt: NOW, minIntervalMs: 0, jitterMs: 400, random: () => 0.5 }))).toBe(NOW + 200);
  });

  it('holds the next send until the oldest of a full minute leaves the window', () => {
    const recent = [NOW - 50_000, NOW - 40_000, NOW - 30_000];
    expect(nextSendAt(input({ minIntervalMs: 0, jitterMs: 0, maxPerMinute: 3, recentSendTimes: recent }))).toBe(NOW + 10_000);
    expect(nextSendAt(input({ minIntervalMs: 0, jitterMs: 0, maxPerMinute: 4, recentSendTimes: recent }))).toBe(NOW);
  });

  it('uses the oldest of the last maxPerMinute sends, whatever their order', () => {
    const recent = [NOW - 10_000, NOW - 55_000, NOW - 30_000, NOW - 45_000];
    expect(nextSendAt(input({ minIntervalMs: 0, jitterMs: 0, maxPerMinute: 3, recentSendTimes: recent }))).toBe(NOW - 45_000 + 60_000);
  });

  it('ignores sends older than a minute, and counts one exactly a minute old', () => {
    const old = [NOW - 60_001, NOW - 70_000, NOW - 100];
    expect(nextSendAt(input({ minIntervalMs: 0, jitterMs: 0, maxPerMinute: 2, recentSendTimes: old }))).toBe(NOW);
    const edge = [NOW - 60_000, NOW - 100];
    expect(nextSendAt(input({ minIntervalMs: 0, jitterMs: 0, maxPerMinute: 2, recentSendTimes: edge }))).toBe(NOW);
    const inside = [NOW - 59_999, NOW - 100];
    expect(nextSendAt(input({ minIntervalMs: 0, jitterMs: 0, maxPerMinute: 2, recentSendTimes: inside }))).toBe(NOW + 1);
  });

  it('has no per-minute limit when maxPerMinute is 0', () => {
    const recent = Array.from({ length: 500 }, (_, i) => NOW - i * 10);
    expect(nextSendAt(input({ minIntervalMs: 0, jitterMs: 0, maxPerMinute: 0, recentSendTimes: recent }))).toBe(NOW);
  });

  it('takes the later of the interval and the minute limit', () => {
    const recent = [NOW - 59_500];
    expect(nextSendAt(input({ lastSendAt: NOW - 59_500, minIntervalMs: 2000, jitterMs: 0, maxPerMinute: 1, recentSendTimes: recent }))).toBe(NOW + 500);
    expect(nextSendAt(input({ lastSendAt: NOW - 100, minIntervalMs: 2000, jitterMs: 0, maxPerMinute: 1, recentSendTimes: [NOW - 59_500] }))).toBe(NOW + 1900);
  });

  describe('over many random runs (seeded)', () => {
    /**
     * Simulates one instance sending as fast as it is allowed, asking at random moments (a queue
     * that fills in bursts), keeping the last minute of sends the way a sender would.
     */
    function simulate(seed: number) {
      const rnd = seeded(seed);
      const minIntervalMs = rnd() < 0.2 ? 0 : Math.floor(rnd() * 3000);
      const jitterMs = rnd() < 0.2 ? 0 : Math.floor(rnd() * 2000);
      const maxPerMinute = rnd() < 0.2 ? 0 : 1 + Math.floor(rnd() * 40);
      const sends: number[] = [];
      let now = 1_700_000_000_000 + Math.floor(rnd() * 1e9);
      for (let i = 0; i < 300; i++) {
        // Sometimes the queue was empty for a while; sometimes the next message is there at once.
        now += rnd() < 0.3 ? Math.floor(rnd() * 90_000) : 0;
        const recentSendTimes = sends.filter((t) => t >= now - 60_000);
        const at = nextSendAt({ now, lastSendAt: sends.at(-1) ?? null, recentSendTimes, minIntervalMs, jitterMs, maxPerMinute, random: rnd });
        expect(at).toBeGreaterThanOrEqual(now);
        sends.push(at);
        now = at;
      }
      return { sends, minIntervalMs, jitterMs, maxPerMinute };
    }

    it.each(Array.from({ length: 200 }, (_, i) => i + 1))('seed %i: never two sends closer than minIntervalMs, never more than maxPerMinute in any 60 s', (seed) => {
      const { sends, minIntervalMs, maxPerMinute } = simulate(seed);
      for (let i = 1; i < sends.length; i++) expect(sends[i]! - sends[i - 1]!).toBeGreaterThanOrEqual(minIntervalMs);
      if (maxPerMinute > 0) {
        // Every window [t, t + 60000) that starts at a send (the fullest ones do) holds at most maxPerMinute.
        for (let i = 0; i < sends.length; i++) {
          let j = i;
          while (j < sends.length && sends[j]! < sends[i]! + 60_000) j++;
          expect(j - i, `window from send ${i}`).toBeLessThanOrEqual(maxPerMinute);
        }
      }
    });

    it('is not slower than it must be: a full minute is used up to the limit when the interval allows it', () => {
      const sends: number[] = [];
      let now = NOW;
      for (let i = 0; i < 90; i++) {
        const at = nextSendAt({ now, lastSendAt: sends.at(-1) ?? null, recentSendTimes: sends.filter((t) => t >= now - 60_000), minIntervalMs: 100, jitterMs: 0, maxPerMinute: 30, random: Math.random });
        sends.push(at);
        now = at;
      }
      // 30 sends 100 ms apart, then a pause until the first leaves the window, and so on.
      expect(sends.slice(0, 30).map((t) => t - NOW)).toEqual(Array.from({ length: 30 }, (_, i) => i * 100));
      expect(sends[30]! - NOW).toBe(60_000);
      expect(sends[60]! - NOW).toBe(120_000);
    });

    it('spreads the jitter over [0, jitterMs)', () => {
      const rnd = seeded(42);
      const waits = Array.from({ length: 2000 }, () => nextSendAt(input({ lastSendAt: NOW, minIntervalMs: 0, jitterMs: 1000, maxPerMinute: 0, random: rnd })) - NOW);
      expect(Math.min(...waits)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...waits)).toBeLessThan(1000);
      expect(Math.min(...waits)).toBeLessThan(50);
      expect(Math.max(...waits)).toBeGreaterThan(950);
    });
  });
});
