import type { CheckContext } from './context.js';
import type { Judge } from './judge.js';
import { probeThenJudge } from './probe-tick.js';

/**
 * The health loop's tick: ping every running worker (WhatsApp state from the page, with a
 * timeout), then judge every instance.
 */
export class HealthCheck {
  constructor(
    private readonly ctx: CheckContext,
    private readonly judge: Judge,
  ) {}

  tick(signal: AbortSignal): Promise<void> {
    const { observations, settings } = this.ctx;
    return probeThenJudge(this.ctx, this.judge, signal, async (handle, worker) => {
      const statusSince = handle.live.statusChangedAt.getTime();
      try {
        const ping = await worker.ping(settings.pingTimeoutMs);
        observations.recordPing(handle.id, statusSince, { ok: true, state: ping.state, latencyMs: ping.latencyMs }, Date.now());
      } catch {
        observations.recordPing(handle.id, statusSince, { ok: false }, Date.now());
      }
    });
  }
}
