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
export async function probeThenJudge(ctx: CheckContext, judge: Judge, signal: AbortSignal, probe: Probe): Promise<void> {
  const flags = await ctx.enabledFlags();
  await forEachInstance(ctx.fleet.list(), ctx.settings.concurrency, ctx.log, async (handle) => {
    if (signal.aborted || ctx.busy(handle.id)) return;
    const worker = handle.currentWorker;
    if (worker) await probe(handle, worker);
    if (signal.aborted || ctx.busy(handle.id)) return;
    await judge.judge(handle, flags);
  });
}
