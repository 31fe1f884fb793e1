import { describe, expect, it } from 'vitest';
import { nextRecoveryStep, RecoveryStep, type RecoveryHistory } from '../../../src/checks/recovery-ladder.js';

const { SOFT, HARD, CLEANUP } = RecoveryStep;

describe('nextRecoveryStep: the ladder with MAX_RECOVERY_ATTEMPTS = 3', () => {
  it.each([
    [0, null, SOFT],
    [1, SOFT, HARD],
    [2, HARD, HARD],
    [3, HARD, CLEANUP],
    [4, CLEANUP, CLEANUP],
    [10, CLEANUP, CLEANUP],
  ] as const)('after %i failures (last step %s) → %s', (failures, lastStep, expected) => {
    expect(nextRecoveryStep({ failures, lastStep }, 3)).toBe(expected);
  });

  it('climbs soft, hard, hard, cleanup when every recovery fails', () => {
    const steps: RecoveryStep[] = [];
    let history: RecoveryHistory = { failures: 0, lastStep: null };
    for (let i = 0; i < 4; i++) {
      const step = nextRecoveryStep(history, 3);
      steps.push(step);
      history = { failures: history.failures + 1, lastStep: step };
    }
    expect(steps).toEqual([SOFT, HARD, HARD, CLEANUP]);
  });

  it('starts again at soft after a recovery worked, whatever the last step was', () => {
    expect(nextRecoveryStep({ failures: 0, lastStep: HARD }, 3)).toBe(SOFT);
    expect(nextRecoveryStep({ failures: 0, lastStep: CLEANUP }, 3)).toBe(SOFT);
  });

  it('follows the count when no last step is known', () => {
    expect(nextRecoveryStep({ failures: 1, lastStep: null }, 3)).toBe(HARD);
    expect(nextRecoveryStep({ failures: 3, lastStep: null }, 3)).toBe(CLEANUP);
  });

  it('never steps down after a failed higher rung', () => {
    // A failed cleanup (maxAttempts raised since) is retried as a cleanup, not a hard restart.
    expect(nextRecoveryStep({ failures: 1, lastStep: CLEANUP }, 5)).toBe(CLEANUP);
    expect(nextRecoveryStep({ failures: 2, lastStep: CLEANUP }, 5)).toBe(CLEANUP);
  });
});

describe('nextRecoveryStep: a worker or page that does not answer (zombie)', () => {
  it.each([1, 3, 5])('skips the soft restart and starts at hard (maxAttempts %i)', (max) => {
    expect(nextRecoveryStep({ failures: 0, lastStep: null }, max, true)).toBe(HARD);
    expect(nextRecoveryStep({ failures: 0, lastStep: CLEANUP }, max, true)).toBe(HARD);
  });

  it('climbs hard, hard, cleanup when every recovery fails, and never reaches the cleanup sooner than an answering worker does', () => {
    const climb = (unresponsive: boolean) => {
      const steps: RecoveryStep[] = [];
      let history: RecoveryHistory = { failures: 0, lastStep: null };
      while (steps.at(-1) !== CLEANUP) {
        const step = nextRecoveryStep(history, 3, unresponsive);
        steps.push(step);
        history = { failures: history.failures + 1, lastStep: step };
      }
      return steps;
    };
    expect(climb(true)).toEqual([HARD, HARD, HARD, CLEANUP]);
    expect(climb(false)).toEqual([SOFT, HARD, HARD, CLEANUP]);
  });
});

describe('nextRecoveryStep: other maxima', () => {
  it('with maxAttempts 1 there is no hard rung: soft, then cleanup', () => {
    expect(nextRecoveryStep({ failures: 0, lastStep: null }, 1)).toBe(SOFT);
    expect(nextRecoveryStep({ failures: 1, lastStep: SOFT }, 1)).toBe(CLEANUP);
  });

  it('with maxAttempts 5: hard for failures 1..4, cleanup at 5', () => {
    const steps = [0, 1, 2, 3, 4, 5].map((failures) => nextRecoveryStep({ failures, lastStep: null }, 5));
    expect(steps).toEqual([SOFT, HARD, HARD, HARD, HARD, CLEANUP]);
  });

  it('rejects a maximum below 1 and a bad failure count, naming the field', () => {
    expect(() => nextRecoveryStep({ failures: 0, lastStep: null }, 0)).toThrow(/maxAttempts must be an integer >= 1/);
    expect(() => nextRecoveryStep({ failures: 0, lastStep: null }, 2.5)).toThrow(/maxAttempts/);
    expect(() => nextRecoveryStep({ failures: -1, lastStep: null }, 3)).toThrow(/history\.failures/);
    expect(() => nextRecoveryStep({ failures: 1.5, lastStep: null }, 3)).toThrow(/history\.failures/);
  });
});
