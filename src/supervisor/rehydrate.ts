import pLimit from 'p-limit';
import { sleep } from '../../lib/timeout.js';
import type { InstanceHandle } from './instance/handle.js';

export interface RehydrateOptions {
  concurrency: number;
  /** Minimum spacing between two launches, so a boot is not one burst of Chromium starts. */
  staggerMs: number;
  /** Aborted when the fleet stops: instances not started yet stay down. */
  signal?: AbortSignal;
}

/**
 * Brings instances back after a boot: all are queued for it at once (the recovery loop leaves
 * them alone), each is marked RECONNECTING (so the database says at once what is about to
 * happen), then started in list order with at most `concurrency` starts
 * in flight and launches spaced by `staggerMs`. A failed launch is the instance's own business:
 * start() records it and reconnects per policy. Should start() itself reject (a bug, not a launch
 * failure), no further start begins, the ones in flight are waited for, then that error is thrown.
 *
 * Every start() here passes the fleet's start gate like any other start (LAUNCH_CONCURRENCY,
 * fleet memory measured now), so a boot never launches more than the gate admits. The pacing
 * here only sits on top: `staggerMs` spaces the requests, and `concurrency`
 * (REHYDRATE_CONCURRENCY) bounds the boot's starts in flight — waiting at the gate included —,
 * which the gate's launch limit already bounds for every start.
 */
export async function rehydrate(handles: readonly InstanceHandle[], options: RehydrateOptions): Promise<void> {
  // Every one queued before the first await: the recovery loop may tick while they are marked,
  // and one it started before its mark would then be moved back to RECONNECTING under its start.
  for (const handle of handles) handle.queueForBoot();
  for (const handle of handles) await handle.markRehydrating();
  const limit = pLimit(options.concurrency);
  let nextLaunchAt = 0;
  let failure: { error: unknown } | undefined;
  await Promise.all(
    handles.map((handle) =>
      limit(async () => {
        if (failure) return;
        const wait = nextLaunchAt - Date.now();
        nextLaunchAt = Math.max(Date.now(), nextLaunchAt) + options.staggerMs;
        if (wait > 0) await sleep(wait);
        if (options.signal?.aborted) return;
        // Stopped since it was queued (disabled, removed) or started by someone else: not the boot's to start.
        if (!handle.live.bootQueued) return;
        try {
          await handle.start('rehydrate');
        } catch (error) {
          failure ??= { error };
        }
      }),
    ),
  );
  if (failure) throw failure.error;
}
