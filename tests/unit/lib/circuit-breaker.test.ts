import { describe, expect, it } from 'vitest';
import { CircuitBreaker, CircuitOpenError, type CircuitState } from '../../../lib/circuit-breaker.js';

function setup(failureThreshold = 3, resetTimeoutMs = 1000) {
  const clock = { now: 0 };
  const changes: Array<[CircuitState, CircuitState]> = [];
  const breaker = new CircuitBreaker({
    failureThreshold,
    resetTimeoutMs,
    now: () => clock.now,
    onStateChange: (from, to) => changes.push([from, to]),
  });
  return { breaker, clock, changes };
}

function failTimes(breaker: CircuitBreaker, n: number): void {
  for (let i = 0; i < n; i++) breaker.recordFailure();
}

const ok = async () => 'ok';
const boom = async () => {
  throw new Error('boom');
};

describe('CircuitBreaker', () => {
  it('starts closed and allows requests', () => {
    const { breaker } = setup();
    expect(breaker.state).toBe('closed');
    expect(breaker.canRequest()).toBe(true);
  });

  it('opens after failureThreshold consecutive failures, not before', () => {
    const { breaker, changes } = setup(3);
    failTimes(breaker, 2);
    expect(breaker.state).toBe('closed');
    breaker.recordFailure();
    expect(breaker.state).toBe('open');
    expect(breaker.canRequest()).toBe(false);
    expect(changes).toEqual([['closed', 'open']]);
  });

  it('counts only consecutive failures: a success resets the count', () => {
    const { breaker } = setup(3);
    failTimes(breaker, 2);
    breaker.recordSuccess();
    failTimes(breaker, 2);
    expect(breaker.state).toBe('closed');
  });

  it('turns half_open once resetTimeoutMs has passed', () => {
    const { breaker, clock, changes } = setup(1, 1000);
    breaker.recordFailure();
    clock.now = 999;
    expect(breaker.state).toBe('open');
    clock.now = 1000;
    expect(breaker.state).toBe('half_open');
    expect(changes).toEqual([
      ['closed', 'open'],
      ['open', 'half_open'],
    ]);
  });

  it('lets exactly one trial through while half_open', () => {
    const { breaker, clock } = setup(1, 1000);
    breaker.recordFailure();
    clock.now = 1000;
    expect(breaker.canRequest()).toBe(true);
    expect(breaker.canRequest()).toBe(false);
    expect(breaker.canRequest()).toBe(false);
  });

  it('closes when the trial succeeds', () => {
    const { breaker, clock, changes } = setup(2, 1000);
    failTimes(breaker, 2);
    clock.now = 1000;
    expect(breaker.canRequest()).toBe(true);
    breaker.recordSuccess();
    expect(breaker.state).toBe('closed');
    expect(changes.at(-1)).toEqual(['half_open', 'closed']);
    // The failure count starts over: one failure is not enough to reopen.
    breaker.recordFailure();
    expect(breaker.state).toBe('closed');
  });

  it('reopens for a full resetTimeoutMs when the trial fails', () => {
    const { breaker, clock, changes } = setup(3, 1000);
    failTimes(breaker, 3);
    clock.now = 1000;
    expect(breaker.canRequest()).toBe(true);
    clock.now = 1200;
    breaker.recordFailure();
    expect(breaker.state).toBe('open');
    expect(changes.at(-1)).toEqual(['half_open', 'open']);
    clock.now = 2199;
    expect(breaker.canRequest()).toBe(false);
    clock.now = 2200;
    expect(breaker.canRequest()).toBe(true);
  });

  it('hands out a new trial when the previous one was never reported within resetTimeoutMs', () => {
    const { breaker, clock } = setup(1, 1000);
    breaker.recordFailure();
    clock.now = 1000;
    expect(breaker.canRequest()).toBe(true);
    clock.now = 1999;
    expect(breaker.canRequest()).toBe(false);
    clock.now = 2000;
    expect(breaker.canRequest()).toBe(true);
  });

  it('ignores outcomes reported while open (they belong to requests sent before it opened)', () => {
    const { breaker, clock, changes } = setup(1, 1000);
    breaker.recordFailure();
    clock.now = 500;
    breaker.recordSuccess();
    breaker.recordFailure();
    expect(breaker.state).toBe('open');
    clock.now = 1000;
    expect(breaker.state).toBe('half_open');
    expect(changes).toHaveLength(2);
  });

  it('reports each transition once and never a change to the same state', () => {
    const { breaker, changes } = setup(1);
    breaker.recordSuccess();
    breaker.recordSuccess();
    expect(changes).toEqual([]);
  });

  it('uses Date.now when no clock is given', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, resetTimeoutMs: 0 });
    breaker.recordFailure();
    expect(breaker.state).toBe('half_open');
  });

  describe('exec', () => {
    it('returns the result and records a success', async () => {
      const { breaker } = setup(2);
      breaker.recordFailure();
      await expect(breaker.exec(ok)).resolves.toBe('ok');
      breaker.recordFailure();
      expect(breaker.state).toBe('closed');
    });

    it('rethrows the error itself and records a failure', async () => {
      const { breaker } = setup(1);
      await expect(breaker.exec(boom)).rejects.toThrow('boom');
      expect(breaker.state).toBe('open');
    });

    it('throws CircuitOpenError with code CIRCUIT_OPEN and the remaining wait while open, without calling fn', async () => {
      const { breaker, clock } = setup(1, 1000);
      breaker.recordFailure();
      clock.now = 250;
      let called = false;
      const error = await breaker
        .exec(async () => {
          called = true;
        })
        .catch((e: unknown) => e);
      expect(called).toBe(false);
      expect(error).toBeInstanceOf(CircuitOpenError);
      expect(error).toMatchObject({ code: 'CIRCUIT_OPEN', retryInMs: 750 });
    });

    it('lets one trial run while half_open and rejects concurrent calls', async () => {
      const { breaker, clock } = setup(1, 1000);
      breaker.recordFailure();
      clock.now = 1000;
      let release!: () => void;
      const trial = breaker.exec(() => new Promise<string>((r) => (release = () => r('trial ok'))));
      clock.now = 1100;
      await expect(breaker.exec(ok)).rejects.toMatchObject({ code: 'CIRCUIT_OPEN', retryInMs: 900 });
      release();
      await expect(trial).resolves.toBe('trial ok');
      expect(breaker.state).toBe('closed');
      await expect(breaker.exec(ok)).resolves.toBe('ok');
    });
  });

  it.each([
    [{ failureThreshold: 0, resetTimeoutMs: 1 }, 'failureThreshold'],
    [{ failureThreshold: 1.5, resetTimeoutMs: 1 }, 'failureThreshold'],
    [{ failureThreshold: 1, resetTimeoutMs: -1 }, 'resetTimeoutMs'],
    [{ failureThreshold: 1, resetTimeoutMs: Number.NaN }, 'resetTimeoutMs'],
  ])('rejects %j with a RangeError naming %s', (opts, name) => {
    expect(() => new CircuitBreaker(opts)).toThrow(RangeError);
    expect(() => new CircuitBreaker(opts)).toThrow(name);
  });
});
