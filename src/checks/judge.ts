import { Health } from '../domain/instance.js';
import type { InstanceHandle } from '../supervisor/instance/handle.js';
import type { CheckContext } from './context.js';
import type { Observation } from './observations.js';
import { healthVerdict, needsRecovery, type Verdict } from './verdict.js';

/** Checks in a row that must say `degraded` before the ladder acts on it. */
export const DEGRADED_CHECKS_BEFORE_RECOVERY = 2;

/**
 * Whether a verdict sends the instance up the recovery ladder:
 *  - `stuck` and `zombie` at once: both are already a sustained condition (a timeout, N pings);
 *  - `degraded` by failed pings never: the streak either clears or becomes `zombie` after
 *    ZOMBIE_PING_FAILURES pings, and a single slow ping is not worth a restart;
 *  - any other `degraded` (socket state, Store missing, error budget) once it was seen on
 *    DEGRADED_CHECKS_BEFORE_RECOVERY checks in a row, so a socket passing through TIMEOUT is left to recover by itself;
 *  - `corrupted` only if its cleanup has not run yet (after it, the instance waits for a scan).
 */
export function shouldRecover(verdict: Verdict, seen: Pick<Observation, 'degradedStreak' | 'recovery'>, pingFailures: number): boolean {
  if (verdict.health === Health.CORRUPTED) return !seen.recovery.cleanedUp;
  if (!needsRecovery(verdict.health)) return false;
  if (verdict.health !== Health.DEGRADED) return true;
  return pingFailures === 0 && seen.degradedStreak >= DEGRADED_CHECKS_BEFORE_RECOVERY;
}

/**
 * Turns what the checks saw into a verdict, stores it on the instance (`setHealth`), and starts
 * the recovery ladder in the background when the verdict calls for it.
 */
export class Judge {
  constructor(
    private readonly ctx: CheckContext,
    private readonly recover: (id: string, verdict: Verdict) => void,
  ) {}

  async judge(handle: InstanceHandle, enabledFlags: ReadonlyMap<string, boolean>, now = Date.now()): Promise<Verdict> {
    const { observations, settings } = this.ctx;
    const enabled = enabledFlags.get(handle.id);
    const input = observations.verdictInput(handle.id, handle.live, {
      // A handle created after the flags were read has a row; its worker tells whether it runs.
      exists: true,
      enabled: enabled ?? handle.hasWorker,
      workerAlive: handle.hasWorker,
      now,
    });
    const verdict = healthVerdict(input, settings.rules);
    const seen = observations.of(handle.id);
    seen.verdict = { ...verdict, at: now };
    seen.degradedStreak = verdict.health === Health.DEGRADED ? seen.degradedStreak + 1 : 0;
    await handle.setHealth(verdict.health, verdict.reason);
    if (!this.ctx.busy(handle.id) && shouldRecover(verdict, seen, input.consecutivePingFailures)) this.recover(handle.id, verdict);
    return verdict;
  }
}
