import { coerceError } from '../../lib/errors.js';
import { ConnectionStatus } from '../domain/instance.js';
import { Category } from '../logger/index.js';
import type { MemoryAlertEvent } from '../supervisor/event-bus.js';
import type { InstanceHandle } from '../supervisor/instance/handle.js';
import type { CheckContext } from './context.js';
import type { MemorySampler } from './memory-sampler.js';
import {
  BYTES_PER_MB,
  decideMemory,
  type InstanceMemoryDecision,
  type InstanceMemorySample,
  type MemoryAction,
  type MemoryDecision,
  type MemoryLevel,
} from './memory-policy.js';

/** Statuses in which a restart interrupts nothing in progress: the next safe moment. */
const SAFE_TO_RESTART: readonly ConnectionStatus[] = [ConnectionStatus.CONNECTED, ConnectionStatus.QR_REQUIRED];

type RestartAction = Exclude<MemoryAction, 'none'>;

const ALERT_OF: Record<RestartAction, MemoryAlertEvent['level']> = {
  restart_over_cap: 'instance_cap',
  restart_leak: 'leak',
  restart_largest: 'critical',
};

const mb = (bytes: number): number => Math.round((bytes / BYTES_PER_MB) * 10) / 10;

/**
 * The memory loop's tick: `decideMemory` over the sampler's latest readings, then act. The fleet
 * level is announced when it changes (starts at the critical level are refused by the fleet's
 * start gate, on its own measurement taken at each decision: one place decides); an
 * instance over its cap, leaking, or the largest of a critical fleet is restarted at the next
 * safe moment (CONNECTED or QR_REQUIRED, no recovery running). A suspected leak is first given a
 * forced GC (worker and page) and a fresh sample: only a leak that survives it is acted on.
 */
export class MemoryCheck {
  private level: MemoryLevel = 'ok';

  constructor(
    private readonly ctx: CheckContext,
    private readonly sampler: MemorySampler,
  ) {}

  /** The policy's view of the fleet now, from what the sampler holds (pure computation, nothing sampled). */
  decide(now = Date.now(), handles: readonly InstanceHandle[] = this.ctx.fleet.list()): MemoryDecision {
    const { memory } = this.ctx.settings;
    return decideMemory({
      now,
      instances: handles.map((h) => this.sampleOf(h)),
      capInstanceBytes: memory.capInstanceBytes,
      capFleetBytes: memory.capFleetBytes,
      warnPercent: memory.warnPercent,
      criticalPercent: memory.criticalPercent,
      leak: memory.leak,
    });
  }

  async tick(signal: AbortSignal): Promise<void> {
    const decision = this.decide();
    this.announceLevel(decision);
    for (const d of decision.instances) {
      if (signal.aborted) return;
      if (d.action !== 'none') await this.act(d, d.action);
    }
  }

  private sampleOf(handle: InstanceHandle): InstanceMemorySample {
    const latest = this.sampler.latest(handle.id);
    return {
      id: handle.id,
      running: latest !== null && handle.currentWorker !== null,
      workerPssBytes: latest?.workerPssBytes ?? null,
      browserPssBytes: latest?.browserPssBytes ?? null,
      pageHeapBytes: this.ctx.observations.of(handle.id).pageHeapBytes,
      history: this.sampler.history(handle.id),
    };
  }

  private announceLevel(decision: MemoryDecision): void {
    const { level, usedPercent, totalBytes, capBytes } = decision.fleet;
    if (level === this.level) return;
    const previous = this.level;
    this.level = level;
    const message = `fleet memory ${level}: ${mb(totalBytes)} MB of ${mb(capBytes)} MB (${Math.round(usedPercent)}%), was ${previous}`;
    this.ctx.log[level === 'ok' ? 'info' : 'warn'](message);
    // Fleet-wide: no instance row, an outbox row for the global webhook URL.
    if (level !== 'ok') void this.ctx.fleet.journal.record({ instanceId: null, notify: [{ name: 'memory.alert', payload: { instanceId: null, level, message, at: new Date() } }] });
  }

  private async act(d: InstanceMemoryDecision, action: RestartAction): Promise<void> {
    const { fleet, log } = this.ctx;
    const handle = fleet.handle(d.id);
    if (this.ctx.busy(d.id) || !SAFE_TO_RESTART.includes(handle.live.status)) {
      log.debug(`memory ${action} deferred: not a safe moment (${handle.live.status})`, { instanceId: d.id });
      return;
    }
    if (action === 'restart_leak' && !(await this.leakSurvivesGc(handle))) return;
    const level = ALERT_OF[action];
    const trend = d.trendMbPerHour === null ? 'n/a' : `${Math.round(d.trendMbPerHour)} MB/h`;
    const message = `${action}: ${mb(d.totalBytes)} MB (${Math.round(d.capUsedPercent)}% of the instance cap), trend ${trend}`;
    await this.ctx.exclusive(d.id, async () => {
      log.warn(`memory: restarting (${message})`, { instanceId: d.id });
      await fleet.journal.record({
        instanceId: d.id,
        event: {
          category: Category.MEMORY,
          type: 'memory.restart',
          reason: action,
          severity: 'MEDIUM',
          data: { totalMb: mb(d.totalBytes), capUsedPercent: Math.round(d.capUsedPercent), trendMbPerHour: d.trendMbPerHour, leakReason: d.leakReason },
        },
        notify: [{ name: 'memory.alert', payload: { instanceId: d.id, level, message, at: new Date() } }],
      });
      this.sampler.forget(d.id);
      // Polite: the worker is not the suspect, so its client is destroyed properly and the session saved.
      await handle.stop('restart');
      fleet.gate.poke();
      // Through the start gate like any start; when it must wait, the loop does not wait with it.
      await handle.requestStart(`memory_${level}`);
    });
  }

  /** Forced GC in the worker and the page, a fresh sample, and the leak verdict again. */
  private async leakSurvivesGc(handle: InstanceHandle): Promise<boolean> {
    const { observations, settings, log } = this.ctx;
    const worker = handle.currentWorker;
    if (!worker) return false;
    try {
      const gc = await worker.gc(settings.pingTimeoutMs);
      observations.of(handle.id).pageHeapBytes = gc.jsHeapUsedBytes;
    } catch (err) {
      log.warn(`forced GC failed: ${coerceError(err).message}`, { instanceId: handle.id });
    }
    this.sampler.sampleOne({ id: handle.id, workerPid: worker.pid, browserPid: worker.browserPid });
    const again = this.decide(Date.now(), [handle]).instances[0];
    if (!again?.leakSuspected) log.info(`leak suspicion cleared after a forced GC (${again?.leakReason})`, { instanceId: handle.id });
    return again?.leakSuspected ?? false;
  }
}
