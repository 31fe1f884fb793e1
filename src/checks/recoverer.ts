import { coerceError } from '../../lib/errors.js';
import { ConnectionStatus, Health } from '../domain/instance.js';
import { Category, type Logger } from '../logger/index.js';
import type { Fleet } from '../supervisor/fleet.js';
import type { Observations } from './observations.js';
import { nextRecoveryStep, RecoveryStep } from './recovery-ladder.js';
import type { CheckSettings } from './settings.js';
import type { Verdict } from './verdict.js';

const FAILED: readonly ConnectionStatus[] = [ConnectionStatus.DISCONNECTED, ConnectionStatus.AUTH_FAILURE];

/**
 * `deferred`: the rung's new worker waits at the start gate (fleet memory, launch concurrency).
 * Not a failure: the ladder stops there, counts nothing against the instance (a wait for memory
 * must never climb to the cleanup that wipes a session), and the start goes ahead when admitted.
 */
export type StepOutcome = 'succeeded' | 'failed' | 'timed_out' | 'aborted' | 'deferred';

export interface StepRecord {
  step: RecoveryStep;
  /** The rung the ladder asked for when another one ran instead (a soft restart needs a running worker). */
  requested: RecoveryStep;
  outcome: StepOutcome;
  durationMs: number;
  error: string | null;
}

export interface RecovererDeps {
  fleet: Fleet;
  observations: Observations;
  settings: Pick<CheckSettings, 'recoveryTimeoutMs' | 'rules'>;
  log: Logger;
}

interface OutcomeWatch {
  /** Resolves with the first outcome: a success status, a failure, an abort, or `timed_out` after `ms`. */
  within(ms: number): Promise<StepOutcome>;
  close(): void;
}

/**
 * Whether `action` settles before `deadline` (ms epoch); its rejection is rethrown. One that does
 * not (a start held by a page that never loads) is left running: the next rung abandons it.
 */
async function settlesBefore(action: Promise<void>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))));
  action.catch(() => undefined);
  try {
    return await Promise.race([action.then(() => true as const), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the recovery ladder for one instance: each rung is tried, awaited until the instance is
 * back (or clearly not), and recorded as an `instance_events` row with its outcome and duration;
 * a failed rung is followed at once by the next one, up to the cleanup.
 */
export class Recoverer {
  /** Steps taken since start, by `step:outcome` (for /metrics). */
  readonly counts = new Map<string, number>();

  constructor(private readonly deps: RecovererDeps) {}

  async ensureHealthy(id: string, verdict: Verdict, signal: AbortSignal): Promise<StepRecord[]> {
    const { fleet, observations, settings } = this.deps;
    const handle = fleet.handle(id);
    // A phone never linked has nothing to come back to: a new QR is as far as a restart can get.
    const linked = handle.live.wid !== null;
    const records: StepRecord[] = [];
    while (!signal.aborted) {
      const history = observations.of(id).recovery;
      const requested = nextRecoveryStep(history, settings.rules.maxRecoveryAttempts, verdict.health === Health.ZOMBIE);
      const step = requested === RecoveryStep.SOFT && !handle.currentWorker ? RecoveryStep.HARD : requested;
      const record = await this.runStep(id, step, requested, verdict, linked, history.failures + 1, signal);
      records.push(record);
      if (record.outcome === 'aborted' || record.outcome === 'deferred') break;
      if (step === RecoveryStep.CLEANUP) {
        // Whatever its outcome, the session is gone: the instance now waits for a scan, not for more rungs.
        history.lastStep = step;
        history.cleanedUp = true;
        break;
      }
      if (record.outcome === 'succeeded') {
        observations.recovered(id);
        break;
      }
      history.failures++;
      history.lastStep = step;
    }
    return records;
  }

  private async runStep(
    id: string,
    step: RecoveryStep,
    requested: RecoveryStep,
    verdict: Verdict,
    linked: boolean,
    attempt: number,
    signal: AbortSignal,
  ): Promise<StepRecord> {
    const { fleet, observations, settings, log } = this.deps;
    const reason = `recovery_${step}`;
    const success = step === RecoveryStep.CLEANUP || !linked ? [ConnectionStatus.QR_REQUIRED, ConnectionStatus.CONNECTED] : [ConnectionStatus.CONNECTED];
    const started = Date.now();
    const watch = this.watchOutcome(id, success, reason, signal);
    observations.resetForRestart(id);
    let outcome: StepOutcome;
    let error: string | null = null;
    const deadline = started + settings.recoveryTimeoutMs;
    try {
      const action =
        step === RecoveryStep.SOFT
          ? fleet.handle(id).softRestart(reason, settings.recoveryTimeoutMs)
          : step === RecoveryStep.HARD
            ? fleet.hardRestart(id, reason)
            : fleet.cleanup(id, verdict.reason);
      const settled = await settlesBefore(action, deadline);
      if (step !== RecoveryStep.SOFT && fleet.handle(id).waitingForAdmission) outcome = 'deferred';
      else if (!settled) outcome = 'timed_out';
      // A hard restart or cleanup whose new worker did not start has failed, whatever comes later (a reconnect's doing).
      else if (step !== RecoveryStep.SOFT && !fleet.handle(id).currentWorker) outcome = 'failed';
      else outcome = await watch.within(Math.max(1_000, deadline - Date.now()));
    } catch (err) {
      outcome = 'failed';
      error = coerceError(err).message;
    } finally {
      watch.close();
    }
    const record: StepRecord = { step, requested, outcome, durationMs: Date.now() - started, error };
    this.counts.set(`${step}:${outcome}`, (this.counts.get(`${step}:${outcome}`) ?? 0) + 1);
    const level = outcome === 'succeeded' ? 'info' : 'warn';
    log[level](`recovery ${step} ${outcome} in ${record.durationMs} ms`, { instanceId: id, health: verdict.health, reason: verdict.reason, ...(error ? { error } : {}) });
    const severity = step === RecoveryStep.CLEANUP ? 'HIGH' : outcome === 'succeeded' || outcome === 'deferred' ? 'LOW' : 'MEDIUM';
    await fleet.journal.record({
      instanceId: id,
      event: {
        category: Category.HEALTH,
        type: `recovery.${step}`,
        reason: verdict.reason,
        severity,
        data: { step, ...(requested !== step ? { requested } : {}), outcome, durationMs: record.durationMs, attempt, health: verdict.health, ...(error ? { error } : {}) },
      },
      notify: [{ name: 'recovery.step', payload: { instanceId: id, step, outcome, reason: verdict.reason, durationMs: record.durationMs, at: new Date() }, severity }],
    });
    return record;
  }

  /**
   * Subscribed before the step acts, so no status change can slip past. A DISCONNECTED or
   * AUTH_FAILURE the step did not cause itself (its own reason) means the step failed, and so
   * does a QR for a phone that was linked.
   */
  private watchOutcome(id: string, success: ConnectionStatus[], ownReason: string, signal: AbortSignal): OutcomeWatch {
    let settle: (outcome: StepOutcome) => void = () => undefined;
    const result = new Promise<StepOutcome>((resolve) => (settle = resolve));
    const since = Date.now();
    const off = this.deps.fleet.events.on('connection.update', (e) => {
      // A change decided before the step began (an old worker's crash) is announced late, after its write.
      if (e.instanceId !== id || e.at.getTime() < since) return;
      if (success.includes(e.status)) settle('succeeded');
      else if (e.status === ConnectionStatus.QR_REQUIRED) settle('failed'); // a linked phone lost its session
      else if (FAILED.includes(e.status) && e.reason !== ownReason && e.reason !== 'cleanup') settle('failed');
    });
    const onAbort = (): void => settle('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | null = null;
    return {
      within: (ms) => {
        timer = setTimeout(() => settle('timed_out'), ms);
        return result;
      },
      close: () => {
        off();
        signal.removeEventListener('abort', onAbort);
        if (timer) clearTimeout(timer);
      },
    };
  }
}
