import { describe, expect, it } from 'vitest';
import { DEGRADED_CHECKS_BEFORE_RECOVERY, shouldRecover } from '../../../src/checks/judge.js';
import type { Health } from '../../../src/domain/instance.js';

const seen = (degradedStreak: number, cleanedUp = false) => ({ degradedStreak, recovery: { failures: 0, lastStep: null, cleanedUp } });
const verdict = (health: Health, reason = 'r') => ({ health, reason });

describe('shouldRecover', () => {
  it.each<[string, Health, number, number, boolean]>([
    ['stuck acts at once', 'stuck', 0, 0, true],
    ['zombie acts at once', 'zombie', 0, 3, true],
    ['degraded by failed pings waits for the zombie verdict', 'degraded', 5, 2, false],
    ['degraded otherwise waits for a second reading', 'degraded', 1, 0, false],
    ['degraded on consecutive checks acts', 'degraded', DEGRADED_CHECKS_BEFORE_RECOVERY, 0, true],
    ['healthy never', 'healthy', 0, 0, false],
    ['disconnected never (waiting for a scan, a reconnect, a human)', 'disconnected', 0, 0, false],
    ['not_found never', 'not_found', 0, 0, false],
  ])('%s', (_name, health, streak, pingFailures, expected) => {
    expect(shouldRecover(verdict(health), seen(streak), pingFailures)).toBe(expected);
  });

  it('sends a corrupted instance to its cleanup once, not again after it ran', () => {
    expect(shouldRecover(verdict('corrupted'), seen(0, false), 0)).toBe(true);
    expect(shouldRecover(verdict('corrupted'), seen(0, true), 0)).toBe(false);
  });
});
