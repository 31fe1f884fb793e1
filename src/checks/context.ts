import { createLimiter } from '../../lib/limiter.js';
import { coerceError } from '../../lib/errors.js';
import type { Logger } from '../logger/index.js';
import type { Fleet } from '../supervisor/fleet.js';
import type { InstanceHandle } from '../supervisor/instance-handle.js';
import type { Observations } from './observations.js';
import type { CheckSettings } from './settings.js';

/** Extra time an IPC request gets over the worker's own timeout, so the worker's answer (even its timeout error) arrives. */
export const IPC_MARGIN_MS = 1_000;

/** What every check loop shares; built once by `Checks`. */
export interface CheckContext {
  fleet: Fleet;
  observations: Observations;
  settings: CheckSettings;
  log: Logger;
  /** `enabled` per instance from the database, or the last good read while it is away. */
  enabledFlags(): Promise<ReadonlyMap<string, boolean>>;
  /** True while a recovery or a memory restart owns the instance: the loops leave it alone. */
  busy(id: string): boolean;
  /**
   * Runs `work` as the only recovery/restart of the instance; resolves false at once when one is
   * already running, else true once `work` is done. `signal` aborts when the checks stop.
   */
  exclusive(id: string, work: (signal: AbortSignal) => Promise<void>): Promise<boolean>;
}

/**
 * `fn` over every instance, at most `concurrency` at once. One instance's failure is logged and
 * does not stop the others (unlike mapLimit): one broken worker must not blind the checks to the rest.
 */
export async function forEachInstance(
  handles: readonly InstanceHandle[],
  concurrency: number,
  log: Logger,
  fn: (handle: InstanceHandle) => Promise<void>,
): Promise<void> {
  const limit = createLimiter(concurrency);
  await Promise.all(
    handles.map((handle) =>
      limit(() => fn(handle)).catch((err: unknown) => log.warn(`check failed: ${coerceError(err).message}`, { instanceId: handle.id })),
    ),
  );
}
