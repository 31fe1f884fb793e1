import { mapLimit } from '../../lib/limiter.js';
import { sleep } from '../../lib/timeout.js';
import type { InstanceHandle } from './instance-handle.js';

export interface RehydrateOptions {
  concurrency: number;
  /** Minimum spacing between two launches, so a boot is not one burst of Chromium starts. */
  staggerMs: number;
  /** Aborted when the fleet stops: instances not started yet stay down. */
  signal?: AbortSignal;
}

/**
 * Brings instances back after a boot: each is first marked RECONNECTING (so the database says
 * at once what is about to happen), then started with at most `concurrency` starts in flight and
 * launches spaced by `staggerMs`. A failed start is the instance's own business (it reconnects
 * per policy); it never stops the others.
 */
export async function rehydrate(handles: readonly InstanceHandle[], options: RehydrateOptions): Promise<void> {
  for (const handle of handles) await handle.markRehydrating();
  let nextLaunchAt = 0;
  await mapLimit(handles, options.concurrency, async (handle) => {
    const wait = nextLaunchAt - Date.now();
    nextLaunchAt = Math.max(Date.now(), nextLaunchAt) + options.staggerMs;
    if (wait > 0) await sleep(wait);
    if (options.signal?.aborted) return;
    await handle.start('rehydrate');
  });
}
