import type { InstanceHandle } from '../supervisor/instance/handle.js';
import type { WorkerClient } from '../worker/handle.js';
import { forEachInstance, type CheckContext } from './context.js';
import type { Judge } from './judge.js';

/** Asks one running worker something and notes the answer (or its failure) in the observations. */
export type Probe = (handle: InstanceHandle, worker: WorkerClient) => Promise<void>;

/**
 * The tick the health and deep loops share: `probe` every running worker, then judge every
 * instance, with or without a worker (a stuck start has none yet). An instance a recovery owns is
 * left alone, before the probe and again before the verdict (it may have started meanwhile).
 */
export class ProbeCheck {
  constructor(
    private readonly ctx: CheckContext,
    private readonly judge: Judge,
    private readonly probe: Probe,
  ) {}

  async tick(signal: AbortSignal): Promise<void> {
    const { ctx } = this;
    const flags = await ctx.enabledFlags();
    await forEachInstance(ctx.fleet.list(), ctx.settings.concurrency, ctx.log, async (handle) => {
      if (signal.aborted || ctx.busy(handle.id)) return;
      const worker = handle.currentWorker;
      if (worker) await this.probe(handle, worker);
      if (signal.aborted || ctx.busy(handle.id)) return;
      await this.judge.judge(handle, flags);
    });
  }
}
