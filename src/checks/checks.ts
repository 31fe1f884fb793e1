import { CronLoop, intervalToCron, type CronLoopStats } from '../../lib/cron-loop.js';
import { coerceError } from '../../lib/errors.js';
import { ConnectionStatus, type Health } from '../domain/instance.js';
import { Category, type Logger } from '../logger/index.js';
import type { Fleet } from '../supervisor/fleet.js';
import type { CheckContext } from './context.js';
import { deepProbe } from './deep-loop.js';
import { pingProbe } from './health-loop.js';
import { Judge } from './judge.js';
import { MemoryCheck } from './memory-loop.js';
import { instanceMemoryReport, memoryReport, type InstanceMemoryReport, type MemoryReport } from './memory-report.js';
import type { MemorySampler } from './memory-sampler.js';
import { Observations } from './observations.js';
import { ProbeCheck } from './probe-check.js';
import { Recoverer } from './recoverer.js';
import { RecoveryCheck } from './recovery-loop.js';
import type { CheckSettings } from './settings.js';
import type { Verdict } from './verdict.js';

export interface ChecksOptions {
  fleet: Fleet;
  log: Logger;
  settings: CheckSettings;
}

export type LoopName = 'health' | 'deep' | 'recovery' | 'memory' | 'memorySample';

export interface ChecksStats {
  loops: Record<LoopName, CronLoopStats>;
  /** Instances a recovery or a memory restart owns right now. */
  recovering: string[];
  /** Why the start gate admits no start for memory now; null when memory allows one. */
  startsRefused: string | null;
}

export interface InstanceVerdict {
  instanceId: string;
  status: ConnectionStatus;
  health: Health;
  healthReason: string | null;
  /** When the checks last judged the instance; null before the first check. */
  checkedAt: string | null;
  consecutivePingFailures: number;
  lastPing: { ok: boolean; state: string | null; latencyMs: number | null; at: string } | null;
  deep: { storePresent: boolean; socketState: string | null; at: string } | null;
  recoveryFailures: number;
  recovering: boolean;
}

/** How long stop() waits for a recovery step in progress before leaving it to the fleet's own stop. */
const STOP_WAIT_MS = 5_000;

/**
 * The four check loops (health, deep, recovery, memory) plus the memory sampler, each a CronLoop
 * with overlap protection, sharing what they observe. Start after the fleet, stop before it.
 */
export class Checks {
  private readonly loops: Record<LoopName, CronLoop>;
  private readonly observations = new Observations();
  private readonly sampler: MemorySampler;
  private readonly memory: MemoryCheck;
  private readonly recoverer: Recoverer;
  private readonly inProgress = new Map<string, Promise<void>>();
  private abort = new AbortController();
  private flags = new Map<string, boolean>();
  private readonly log: Logger;
  private readonly unsubscribe: Array<() => void>;

  constructor(private readonly options: ChecksOptions) {
    const { fleet, settings } = options;
    this.log = options.log.child({ category: Category.HEALTH });
    const ctx: CheckContext = {
      fleet,
      observations: this.observations,
      settings,
      log: this.log,
      enabledFlags: () => this.enabledFlags(),
      busy: (id) => this.inProgress.has(id),
      exclusive: (id, work) => this.exclusive(id, work),
    };
    // The fleet's sampler: the start gate measures with it, so the report shows what the gate decides on.
    this.sampler = fleet.memory;
    this.sampler.retain(settings.memory.leak.windowMs);
    this.recoverer = new Recoverer({ fleet, observations: this.observations, settings, log: this.log });
    const judge = new Judge(ctx, (id, verdict) => void this.recover(id, verdict));
    const health = new ProbeCheck(ctx, judge, pingProbe(ctx));
    const deep = new ProbeCheck(ctx, judge, deepProbe(ctx));
    const recovery = new RecoveryCheck(ctx);
    this.memory = new MemoryCheck({ ...ctx, log: options.log.child({ category: Category.MEMORY }) }, this.sampler);
    this.loops = {
      health: this.loop('health', settings.healthIntervalMs, (signal) => health.tick(signal), settings.healthStartDelayMs),
      deep: this.loop('deep', settings.deepIntervalMs, (signal) => deep.tick(signal), settings.healthStartDelayMs),
      recovery: this.loop('recovery', settings.recoveryIntervalMs, async (signal) => void (await recovery.tick(signal))),
      memory: this.loop('memory', settings.memoryIntervalMs, (signal) => this.memory.tick(signal)),
      memorySample: this.loop('memorySample', settings.memorySampleIntervalMs, () => this.sampleMemory()),
    };
    this.unsubscribe = [
      // Back to CONNECTED, by any path: earlier failed recoveries are history, and the instance is
      // judged at once, so the verdict that sent it up the ladder (zombie, stuck…) is not left on
      // show, in the API, the metrics and the webhooks, until the next health tick.
      fleet.events.on('connection.update', (e) => {
        if (e.status !== ConnectionStatus.CONNECTED) return;
        this.observations.recovered(e.instanceId);
        const handle = fleet.list().find((h) => h.id === e.instanceId);
        if (handle && !this.abort.signal.aborted) {
          void judge.judge(handle, this.flags).catch((err: unknown) => this.log.warn(`could not judge ${e.instanceId}: ${coerceError(err).message}`, { instanceId: e.instanceId }));
        }
      }),
      fleet.events.on('remove.instance', (e) => {
        this.observations.forget(e.instanceId);
        this.sampler.forget(e.instanceId);
      }),
    ];
  }

  private loop(name: LoopName, intervalMs: number, task: (signal: AbortSignal) => Promise<void>, startDelayMs = 0): CronLoop {
    let schedule: string;
    try {
      schedule = intervalToCron(intervalMs);
    } catch (err) {
      throw new RangeError(`the ${name} loop interval: ${coerceError(err).message}`);
    }
    return new CronLoop({
      name: `checks.${name}`,
      schedule,
      task,
      startDelayMs,
      onError: (err) => this.log.error(`${name} loop tick failed: ${err.message}`),
      onSkip: () => this.log.debug(`${name} loop tick skipped: the previous one is still running`),
    });
  }

  start(): void {
    if (this.abort.signal.aborted) this.abort = new AbortController();
    for (const loop of Object.values(this.loops)) loop.start();
  }

  /** Stops every loop (waiting for ticks in progress), then aborts recoveries in progress and waits a little for them. */
  async stop(): Promise<void> {
    await Promise.all(Object.values(this.loops).map((loop) => loop.stop()));
    this.abort.abort();
    let timer: NodeJS.Timeout | undefined;
    const capped = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS)));
    await Promise.race([Promise.all(this.inProgress.values()), capped]);
    clearTimeout(timer);
  }

  /** Detaches from the fleet's bus (for an embedding host that drops the checks but keeps the fleet). */
  close(): void {
    for (const off of this.unsubscribe) off();
  }

  /** Runs a health tick now (`POST /api/health/check`); false when one was already running (its verdicts are fresh anyway). */
  runHealth(): Promise<boolean> {
    return this.loops.health.runNow();
  }

  runDeep(): Promise<boolean> {
    return this.loops.deep.runNow();
  }

  /** One tick of any loop now; tests drive the loops this way instead of waiting for their schedule. */
  runNow(name: LoopName): Promise<boolean> {
    return this.loops[name].runNow();
  }

  stats(): ChecksStats {
    const loops = Object.fromEntries(Object.entries(this.loops).map(([name, loop]) => [name, loop.stats()])) as Record<LoopName, CronLoopStats>;
    return { loops, recovering: [...this.inProgress.keys()], startsRefused: this.options.fleet.startsRefused };
  }

  /** Recovery steps taken since start, by step and outcome. */
  recoveryCounts(): Array<{ step: string; outcome: string; count: number }> {
    return [...this.recoverer.counts].map(([key, count]) => {
      const [step = '', outcome = ''] = key.split(':');
      return { step, outcome, count };
    });
  }

  /** The latest verdict of every instance, from what the loops hold. */
  verdicts(): InstanceVerdict[] {
    return this.options.fleet.list().map((handle) => {
      const o = this.observations.of(handle.id);
      return {
        instanceId: handle.id,
        status: handle.live.status,
        health: handle.health,
        healthReason: handle.live.healthReason,
        checkedAt: o.verdict ? new Date(o.verdict.at).toISOString() : null,
        consecutivePingFailures: o.consecutivePingFailures,
        lastPing: o.lastPing ? { ok: o.lastPing.ok, state: o.lastPing.state, latencyMs: o.lastPing.latencyMs, at: new Date(o.lastPing.at).toISOString() } : null,
        deep: o.deep ? { storePresent: o.deep.storePresent, socketState: o.deep.socketState, at: new Date(o.deep.at).toISOString() } : null,
        recoveryFailures: o.recovery.failures,
        recovering: this.inProgress.has(handle.id),
      };
    });
  }

  /**
   * `GET /api/memory/report`: the latest readings (the memory-sample loop's or a start decision's,
   * whichever is newer; each instance says when), the policy's verdicts on them, and the gate's queue.
   */
  memoryReport(): MemoryReport {
    const { fleet } = this.options;
    const measurement = fleet.latestMemory();
    const handles = fleet.list();
    return memoryReport(this.memory.decide(Date.now(), handles), this.sampler, this.options.settings, {
      refusingStarts: fleet.gate.memoryRefusal(measurement),
      measurement,
      gate: fleet.gate.stats(),
      launching: fleet.gate.launchingIds(),
      waiting: handles.flatMap((h) => {
        const w = h.live.admission;
        return w ? [{ id: h.id, reason: w.reason, since: w.since }] : [];
      }),
    });
  }

  /**
   * One instance's row of the memory report (`GET /api/instance/:id/details`), decided for it
   * alone: a details read does not build the report of every instance to keep one row.
   */
  instanceMemory(id: string): InstanceMemoryReport | null {
    const handle = this.options.fleet.find(id);
    if (!handle) return null;
    const [decision] = this.memory.decide(Date.now(), [handle]).instances;
    const w = handle.live.admission;
    const waiting = new Map(w ? [[id, { id, reason: w.reason, since: w.since }]] : []);
    return instanceMemoryReport(decision!, this.sampler, waiting, new Set(this.options.fleet.gate.launchingIds()));
  }

  private sampleMemory(): Promise<void> {
    return this.sampler.sampleAll(
      this.options.fleet.list().map((h) => ({ id: h.id, workerPid: h.currentWorker?.pid ?? null, browserPid: h.currentWorker?.browserPid ?? null })),
    );
  }

  private async enabledFlags(): Promise<ReadonlyMap<string, boolean>> {
    const rows = await this.options.fleet.rows();
    if (rows) this.flags = new Map(rows.map((r) => [r.id, r.enabled]));
    else this.log.debug('database away: judging with the last known enabled flags');
    return this.flags;
  }

  private recover(id: string, verdict: Verdict): Promise<boolean> {
    return this.exclusive(id, async (signal) => {
      this.log.warn(`${verdict.health} (${verdict.reason}): recovering`, { instanceId: id });
      await this.recoverer.ensureHealthy(id, verdict, signal);
    });
  }

  private async exclusive(id: string, work: (signal: AbortSignal) => Promise<void>): Promise<boolean> {
    if (this.inProgress.has(id) || this.abort.signal.aborted) return false;
    const running = work(this.abort.signal)
      .catch((err: unknown) => this.log.error(`recovery failed: ${coerceError(err).message}`, { instanceId: id }))
      .finally(() => this.inProgress.delete(id));
    this.inProgress.set(id, running);
    await running;
    return true;
  }
}
