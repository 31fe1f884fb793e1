import { ConnectionStatus } from '../domain/instance.js';
import type { CheckContext } from './context.js';
import type { Judge } from './judge.js';
import { probeThenJudge } from './probe-tick.js';

/**
 * The deep loop's tick: page Store present, WhatsApp socket state and page JS heap from every
 * running worker, then a verdict (which also spends the error budget). A deep check that fails
 * while CONNECTED is a failed evaluation and counts as an error; one on a page still starting does not.
 */
export class DeepCheck {
  constructor(
    private readonly ctx: CheckContext,
    private readonly judge: Judge,
  ) {}

  tick(signal: AbortSignal): Promise<void> {
    const { observations, settings } = this.ctx;
    return probeThenJudge(this.ctx, this.judge, signal, async (handle, worker) => {
      const seen = observations.of(handle.id);
      try {
        const deep = await worker.deep(settings.pingTimeoutMs);
        seen.deep = { storePresent: deep.storePresent, socketState: deep.socketState, at: Date.now() };
        seen.pageHeapBytes = deep.jsHeapUsedBytes;
      } catch {
        if (handle.live.status === ConnectionStatus.CONNECTED) observations.recordCheckError(handle.id, Date.now());
      }
    });
  }
}
