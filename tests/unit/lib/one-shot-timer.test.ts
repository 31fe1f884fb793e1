import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OneShotTimer } from '../../../lib/one-shot-timer.js';

const T0 = new Date('2026-01-15T10:00:00.000Z');

describe('OneShotTimer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is not armed and has no nextAt before arm', () => {
    const timer = new OneShotTimer();
    expect(timer.armed).toBe(false);
    expect(timer.nextAt).toBeNull();
  });

  it('arms once: a second arm while armed is ignored and the first deadline stands', () => {
    const timer = new OneShotTimer();
    const first = vi.fn();
    const second = vi.fn();
    expect(timer.arm(1_000, first)).toBe(true);
    expect(timer.arm(50, second)).toBe(false);
    expect(timer.nextAt).toEqual(new Date(T0.getTime() + 1_000));

    vi.advanceTimersByTime(999);
    expect(first).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(first).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10_000);
    expect(second).not.toHaveBeenCalled();
  });

  it('nextAt is the deadline from the injected clock, and null once fired', () => {
    const now = vi.fn(() => new Date('2030-06-01T00:00:00.000Z'));
    const timer = new OneShotTimer(now);
    timer.arm(2_500, () => undefined);
    expect(timer.nextAt).toEqual(new Date('2030-06-01T00:00:02.500Z'));
    expect(timer.armed).toBe(true);
    vi.advanceTimersByTime(2_500);
    expect(timer.nextAt).toBeNull();
    expect(timer.armed).toBe(false);
  });

  it('fires exactly once', () => {
    const timer = new OneShotTimer();
    const fn = vi.fn();
    timer.arm(100, fn);
    vi.advanceTimersByTime(100);
    vi.advanceTimersByTime(10_000);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('can be armed again once it has fired', () => {
    const timer = new OneShotTimer();
    const fn = vi.fn();
    timer.arm(100, fn);
    vi.advanceTimersByTime(100);
    expect(timer.arm(200, fn)).toBe(true);
    vi.advanceTimersByTime(200);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('clear cancels the pending call, forgets nextAt and allows a new arm', () => {
    const timer = new OneShotTimer();
    const fn = vi.fn();
    timer.arm(100, fn);
    timer.clear();
    expect(timer.armed).toBe(false);
    expect(timer.nextAt).toBeNull();
    vi.advanceTimersByTime(1_000);
    expect(fn).not.toHaveBeenCalled();

    const later = vi.fn();
    expect(timer.arm(300, later)).toBe(true);
    expect(timer.nextAt).toEqual(new Date(Date.now() + 300));
    vi.advanceTimersByTime(300);
    expect(later).toHaveBeenCalledTimes(1);
  });

  it('clear when not armed is harmless', () => {
    const timer = new OneShotTimer();
    expect(() => timer.clear()).not.toThrow();
    expect(timer.armed).toBe(false);
  });

  it('does not keep the process alive (unref)', () => {
    const unref = vi.fn();
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation((() => ({ unref }) as unknown as NodeJS.Timeout) as unknown as typeof setTimeout);
    try {
      new OneShotTimer().arm(100, () => undefined);
      expect(unref).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });
});
