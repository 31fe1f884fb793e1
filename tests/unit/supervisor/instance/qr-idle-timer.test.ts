import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QrIdleTimer } from '../../../../src/supervisor/instance/qr-idle-timer.js';

describe('QrIdleTimer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires after idleMs from the first QR of the wait', () => {
    const timer = new QrIdleTimer(60_000);
    const onIdle = vi.fn();
    timer.arm(onIdle);
    expect(timer.armed).toBe(true);
    vi.advanceTimersByTime(59_999);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onIdle).toHaveBeenCalledTimes(1);
    expect(timer.armed).toBe(false);
  });

  it('is armed once per wait: a rotation does not re-arm or push the deadline', () => {
    const timer = new QrIdleTimer(60_000);
    const onIdle = vi.fn();
    const onRotation = vi.fn();
    timer.arm(onIdle);
    vi.advanceTimersByTime(40_000);
    timer.arm(onRotation); // the QR rotated
    vi.advanceTimersByTime(20_000);
    expect(onIdle).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(60_000);
    expect(onRotation).not.toHaveBeenCalled();
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  it('clear ends the wait: nothing fires, and the next QR starts a new full wait', () => {
    const timer = new QrIdleTimer(60_000);
    const onIdle = vi.fn();
    timer.arm(onIdle);
    vi.advanceTimersByTime(30_000);
    timer.clear();
    expect(timer.armed).toBe(false);
    vi.advanceTimersByTime(120_000);
    expect(onIdle).not.toHaveBeenCalled();

    const next = vi.fn();
    timer.arm(next);
    vi.advanceTimersByTime(59_999);
    expect(next).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(next).toHaveBeenCalledTimes(1);
  });
});
