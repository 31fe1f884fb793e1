/**
 * The rungs of the recovery ladder, cheapest first:
 *  - soft:    the worker destroys and re-initializes its whatsapp-web.js client (same process, same browser profile);
 *  - hard:    the worker's whole process group is killed, stale profile locks reaped, a new worker spawned;
 *  - cleanup: the auth data is wiped and the instance set to QR_REQUIRED (HIGH notification).
 */
export const RecoveryStep = {
  SOFT: 'soft',
  HARD: 'hard',
  CLEANUP: 'cleanup',
} as const;
export type RecoveryStep = (typeof RecoveryStep)[keyof typeof RecoveryStep];

export interface RecoveryHistory {
  /** Recoveries in a row that did not bring the instance back; reset by a successful one. */
  failures: number;
  /** The rung tried last, or null if none was tried yet. */
  lastStep: RecoveryStep | null;
}

const RANK: { readonly [S in RecoveryStep]: number } = { soft: 0, hard: 1, cleanup: 2 };

/**
 * The rung to try next. With maxAttempts = 3:
 *
 *   failures 0      → soft     (first attempt, or the last recovery worked and this is a new problem)
 *   failures 1, 2   → hard     (1 .. maxAttempts-1: the soft restart was not enough)
 *   failures >= 3   → cleanup  (maxAttempts failures: the health verdict is `corrupted`)
 *
 * With maxAttempts = 1 there is no hard rung: soft, then cleanup.
 * `unresponsive` (the worker or its page stopped answering: a zombie) starts at the hard rung: a
 * soft restart is a request to that same worker, and would only wait out its timeout.
 * While failures > 0 the ladder never steps down: a failed rung is followed by the same rung or a
 * higher one, whatever the count says (e.g. a failed cleanup is retried as a cleanup, not a soft
 * restart). With failures 0 the last step is history and the ladder starts again at the bottom.
 */
export function nextRecoveryStep(history: RecoveryHistory, maxAttempts: number, unresponsive = false): RecoveryStep {
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`nextRecoveryStep: maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  }
  if (!Number.isInteger(history.failures) || history.failures < 0) {
    throw new RangeError(`nextRecoveryStep: history.failures must be an integer >= 0, got ${history.failures}`);
  }
  const { failures, lastStep } = history;
  if (failures === 0 && unresponsive) return RecoveryStep.HARD;
  const byCount: RecoveryStep = failures === 0 ? RecoveryStep.SOFT : failures < maxAttempts ? RecoveryStep.HARD : RecoveryStep.CLEANUP;
  if (failures > 0 && lastStep !== null && RANK[lastStep] > RANK[byCount]) return lastStep;
  return byCount;
}
