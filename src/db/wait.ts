import type { Logger } from '../logger/index.js';
import { isReachable, type Pool } from './pool.js';

/**
 * Waits until the database answers, logging once per attempt instead of crashing: the
 * supervisor may boot before MySQL does (a server reboot, a container start order).
 */
export async function waitForDatabase(pool: Pool, retryMs: number, log: Logger, signal?: AbortSignal): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    if (await isReachable(pool)) {
      if (attempt > 1) log.info('database is reachable again', { attempt });
      return;
    }
    if (signal?.aborted) throw new Error('stopped while waiting for the database');
    log.warn(`database unreachable, retrying in ${retryMs} ms`, { attempt });
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}
