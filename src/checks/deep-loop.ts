import { ConnectionStatus } from '../domain/instance.js';
import type { CheckContext } from './context.js';
import type { Probe } from './probe-check.js';

/**
 * The deep loop's probe: page Store present, WhatsApp socket state and page JS heap. A deep check
 * that fails while CONNECTED is a failed evaluation and counts as an error (the verdict then
 * spends the error budget); one on a page still starting does not.
 */
export function deepProbe({ observations, settings }: CheckContext): Probe {
  return async (handle, worker) => {
    const seen = observations.of(handle.id);
    try {
      const deep = await worker.deep(settings.pingTimeoutMs);
      seen.deep = { storePresent: deep.storePresent, socketState: deep.socketState, at: Date.now() };
      seen.pageHeapBytes = deep.jsHeapUsedBytes;
    } catch {
      if (handle.live.status === ConnectionStatus.CONNECTED) observations.recordCheckError(handle.id, Date.now());
    }
  };
}
