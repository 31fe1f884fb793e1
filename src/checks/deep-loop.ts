import { ConnectionStatus } from '../domain/instance.js';
import { forEachInstance, type CheckContext } from './context.js';
import type { Judge } from './judge.js';

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

  async tick(signal: AbortSignal): Promise<void> {
    const { fleet, observations, settings, log } = this.ctx;
    const flags = await this.ctx.enabledFlags();
    await forEachInstance(fleet.list(), settings.concurrency, log, async (handle) => {
      if (signal.aborted || this.ctx.busy(handle.id)) return;
      const worker = handle.currentWorker;
      if (worker) {
        const seen = observations.of(handle.id);
        try {
          const deep = await worker.deep(settings.pingTimeoutMs);
          seen.deep = { storePresent: deep.storePresent, socketState: deep.socketState, at: Date.now() };
          seen.pageHeapBytes = deep.jsHeapUsedBytes;
        } catch {
          if (handle.live.status === ConnectionStatus.CONNECTED) observations.recordCheckError(handle.id, Date.now());
        }
      }
      if (signal.aborted || this.ctx.busy(handle.id)) return;
      await this.judge.judge(handle, flags);
    });
  }
}
