import { ConstantBackoff, handleAll, retry } from 'cockatiel';
import { coerceError } from '../../lib/errors.js';
import type { Logger } from '../logger/index.js';
import type { Pool } from './pool.js';

/**
 * Waits until the database answers, logging once per failed attempt instead of crashing: the
 * supervisor may boot before MySQL does (a server reboot, a container start order). Retries
 * every `retryMs` with no limit; once `signal` is aborted, the next failed attempt ends the wait.
 */
export async function waitForDatabase(pool: Pool, retryMs: number, log: Logger, signal?: AbortSignal): Promise<void> {
  const policy = retry(handleAll, { maxAttempts: Number.POSITIVE_INFINITY, backoff: new ConstantBackoff(retryMs) });
  const logFailure = policy.onRetry(({ attempt, ...reason }) => {
    const error = 'error' in reason ? coerceError(reason.error).message : 'no answer';
    log.warn(`database unreachable, retrying in ${retryMs} ms`, { attempt, error });
  });
  try {
    await policy.execute(async ({ attempt }) => {
      await pool.query('SELECT 1');
      if (attempt > 0) log.info('database is reachable again', { attempt: attempt + 1 });
    }, signal);
  } catch (err) {
    // cockatiel stops retrying once the signal is aborted and rethrows the last failure.
    throw new Error('stopped while waiting for the database', { cause: err });
  } finally {
    logFailure.dispose();
  }
}
