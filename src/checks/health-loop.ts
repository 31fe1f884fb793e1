import { forEachInstance, type CheckContext } from './context.js';
import type { Judge } from './judge.js';

/**
 * The health loop's tick: ping every running worker (WhatsApp state from the page, with a
 * timeout), then judge every instance, with or without a worker (a stuck start has none yet).
 */
export class HealthCheck {
  constructor(
    private readonly ctx: CheckContext,
    private readonly judge: Judge,
  ) {}

  async tick(signal: AbortSignal): Promise<void> {
    const { fleet, observations, settings, log } = this.ctx;
    const flags = await this.ctx.enabledFlags();
    await forEachInstance(fleet.list(), settings.concurrency, log, async (handle) => {
      if (signal.aborted || this.ctx.busy(handle.id)) return;
      const worker = handle.currentWorker;
      if (worker) {
        const statusSince = handle.live.statusChangedAt.getTime();
        try {
          const ping = await worker.ping(settings.pingTimeoutMs);
          observations.recordPing(handle.id, statusSince, { ok: true, state: ping.state, latencyMs: ping.latencyMs }, Date.now());
        } catch {
          observations.recordPing(handle.id, statusSince, { ok: false }, Date.now());
        }
      }
      if (signal.aborted || this.ctx.busy(handle.id)) return;
      await this.judge.judge(handle, flags);
    });
  }
}
