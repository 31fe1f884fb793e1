import type { CheckContext } from './context.js';
import type { Probe } from './probe-check.js';

/**
 * The health loop's probe: ping the worker (WhatsApp state from the page, with a timeout); a
 * failed or late ping is noted as such. The verdict follows in the shared tick.
 */
export function pingProbe({ observations, settings }: CheckContext): Probe {
  return async (handle, worker) => {
    const statusSince = handle.live.statusChangedAt.getTime();
    try {
      const ping = await worker.ping(settings.pingTimeoutMs);
      observations.recordPing(handle.id, statusSince, { ok: true, state: ping.state, latencyMs: ping.latencyMs }, Date.now());
    } catch {
      observations.recordPing(handle.id, statusSince, { ok: false }, Date.now());
    }
  };
}
