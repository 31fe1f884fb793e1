import type { InstanceLive } from '../supervisor/instance/handle.js';
import type { RecoveryStep } from './recovery-ladder.js';
import type { Verdict, VerdictInput } from './verdict.js';

/** What the checks have seen of one instance; the verdict's input besides the live view. */
export interface Observation {
  consecutivePingFailures: number;
  /** The status (its start, ms epoch) the failure streak belongs to: a new status starts a new streak. */
  streakStatusSince: number;
  lastPing?: { ok: boolean; state: string | null; at: number; latencyMs: number | null };
  deep?: { storePresent: boolean; socketState: string | null; at: number };
  /** The page's JS heap, from the latest deep check or forced GC. */
  pageHeapBytes: number | null;
  /** Failed deep checks (failed evaluations): they count toward the error budget with the worker's own errors. */
  checkErrors: number[];
  recovery: { failures: number; lastStep: RecoveryStep | null; cleanedUp: boolean };
  /** Checks in a row that said `degraded`: one bad reading of the socket state is not yet worth a restart. */
  degradedStreak: number;
  verdict?: Verdict & { at: number };
}

const ERROR_MEMORY = 50;

/** One Observation per instance, created on first use. */
export class Observations {
  private readonly byId = new Map<string, Observation>();

  of(id: string): Observation {
    let found = this.byId.get(id);
    if (!found) {
      found = { consecutivePingFailures: 0, streakStatusSince: 0, pageHeapBytes: null, checkErrors: [], recovery: { failures: 0, lastStep: null, cleanedUp: false }, degradedStreak: 0 };
      this.byId.set(id, found);
    }
    return found;
  }

  forget(id: string): void {
    this.byId.delete(id);
  }

  recordPing(id: string, statusSince: number, ping: { ok: true; state: string | null; latencyMs: number } | { ok: false }, at: number): void {
    const o = this.of(id);
    if (o.streakStatusSince !== statusSince) {
      o.streakStatusSince = statusSince;
      o.consecutivePingFailures = 0;
    }
    if (ping.ok) {
      o.consecutivePingFailures = 0;
      o.lastPing = { ok: true, state: ping.state, at, latencyMs: ping.latencyMs };
    } else {
      o.consecutivePingFailures++;
      o.lastPing = { ok: false, state: null, at, latencyMs: null };
    }
  }

  recordCheckError(id: string, at: number): void {
    const errors = this.of(id).checkErrors;
    errors.push(at);
    if (errors.length > ERROR_MEMORY) errors.shift();
  }

  /** A restart begins: pings and deep results of the old client say nothing about the new one. */
  resetForRestart(id: string): void {
    const o = this.of(id);
    o.consecutivePingFailures = 0;
    o.degradedStreak = 0;
    delete o.lastPing;
    delete o.deep;
  }

  /** CONNECTED again: whatever failed before is history, the ladder starts from the bottom next time. */
  recovered(id: string): void {
    this.of(id).recovery = { failures: 0, lastStep: null, cleanedUp: false };
  }

  /** The pure verdict's input from the live view, the row's `enabled` and what the checks saw. */
  verdictInput(id: string, live: InstanceLive, facts: { exists: boolean; enabled: boolean; workerAlive: boolean; now: number }): VerdictInput {
    const o = this.of(id);
    const statusSince = live.statusChangedAt.getTime();
    const pingFailures = o.streakStatusSince === statusSince ? o.consecutivePingFailures : 0;
    return {
      exists: facts.exists,
      enabled: facts.enabled,
      status: live.status,
      statusSince,
      now: facts.now,
      workerAlive: facts.workerAlive,
      blockedBy: live.blockedBy,
      consecutivePingFailures: pingFailures,
      ...(o.lastPing ? { lastPing: { ok: o.lastPing.ok, state: o.lastPing.state, at: o.lastPing.at } } : {}),
      errorTimes: [...live.recentErrors.map((d) => d.getTime()), ...o.checkErrors],
      ...(o.deep ? { deep: o.deep } : {}),
      recoveryFailures: o.recovery.failures,
      nextReconnectAt: live.nextReconnectAt?.getTime() ?? null,
      bootQueued: live.bootQueued,
      admissionWaiting: live.admission !== null,
    };
  }
}
