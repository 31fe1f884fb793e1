import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReconnectTimer } from '../../../../src/supervisor/instance/reconnect-timer.js';
import type { ReconnectPolicy } from '../../../../src/supervisor/reconnect-policy.js';

const POLICY: ReconnectPolicy = { baseMs: 1_000, maxMs: 10_000, jitterMs: 500, maxAttempts: 4, firstDelayMs: 0 };
const T0 = new Date('2026-01-15T10:00:00.000Z');

describe('ReconnectTimer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('decide (the policy, nothing scheduled)', () => {
    it('backoff grows with the attempts made, 1-based attempt numbers', () => {
      const timer = new ReconnectTimer(POLICY, () => 0);
      const decisions = [0, 1, 2, 3].map((n) => timer.decide('worker_exit', n));
      expect(decisions).toEqual([
        { action: 'retry', attempt: 1, delayMs: 1_000 },
        { action: 'retry', attempt: 2, delayMs: 1_500 },
        { action: 'retry', attempt: 3, delayMs: 2_250 },
        { action: 'retry', attempt: 4, delayMs: 3_375 },
      ]);
      expect(timer.nextAt).toBeNull();
    });

    it('is capped at maxMs and adds the injected jitter', () => {
      const timer = new ReconnectTimer({ ...POLICY, maxAttempts: 100 }, () => 0.5);
      expect(timer.decide('x', 0)).toEqual({ action: 'retry', attempt: 1, delayMs: 1_250 });
      expect(timer.decide('x', 50)).toEqual({ action: 'retry', attempt: 51, delayMs: 10_250 });
    });

    it('gives up after maxAttempts', () => {
      const timer = new ReconnectTimer(POLICY, () => 0);
      expect(timer.decide('worker_exit', 4)).toEqual({ action: 'give_up', reason: 'max_attempts' });
      expect(timer.decide('worker_exit', 9)).toEqual({ action: 'give_up', reason: 'max_attempts' });
    });

    it('waits for a human after LOGOUT (whatever the count)', () => {
      const timer = new ReconnectTimer(POLICY, () => 0);
      expect(timer.decide('LOGOUT', 0)).toEqual({ action: 'wait_for_human', reason: 'LOGOUT' });
      expect(timer.decide('LOGOUT', 99)).toEqual({ action: 'wait_for_human', reason: 'LOGOUT' });
      expect(timer.decide('status 401', 0)).toEqual({ action: 'wait_for_human', reason: 'status 401' });
    });
  });

  it('schedule calls back after the delay and exposes nextAt until then', () => {
    const timer = new ReconnectTimer(POLICY, () => 0);
    const fn = vi.fn();
    timer.schedule(2_000, fn);
    expect(timer.nextAt).toEqual(new Date(T0.getTime() + 2_000));
    vi.advanceTimersByTime(1_999);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(timer.nextAt).toBeNull();
  });

  it('nextAt follows the injected clock', () => {
    const timer = new ReconnectTimer(POLICY, () => 0, () => new Date('2030-01-01T00:00:00.000Z'));
    timer.schedule(750, () => undefined);
    expect(timer.nextAt).toEqual(new Date('2030-01-01T00:00:00.750Z'));
  });

  it('schedule replaces a pending reconnect (unlike a bare one-shot arm)', () => {
    const timer = new ReconnectTimer(POLICY, () => 0);
    const first = vi.fn();
    const second = vi.fn();
    timer.schedule(5_000, first);
    timer.schedule(1_000, second);
    expect(timer.nextAt).toEqual(new Date(T0.getTime() + 1_000));
    vi.advanceTimersByTime(10_000);
    expect(first).not.toHaveBeenCalled();
    expect(second).toHaveBeenCalledTimes(1);
  });

  it('clear cancels the pending reconnect', () => {
    const timer = new ReconnectTimer(POLICY, () => 0);
    const fn = vi.fn();
    timer.schedule(1_000, fn);
    timer.clear();
    expect(timer.nextAt).toBeNull();
    vi.advanceTimersByTime(10_000);
    expect(fn).not.toHaveBeenCalled();
  });
});
