import pLimit from 'p-limit';
import { coerceError } from '../../lib/errors.js';
import type { Logger } from '../logger/index.js';
import type { Fleet } from '../supervisor/fleet.js';
import type { InstanceHandle } from '../supervisor/instance/handle.js';
import type { Observations } from './observations.js';
import type { CheckSettings } from './settings.js';

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
 * `fn` over every instance, at most `concurrency` at once, started in list order. One instance's
 * failure is logged and does not stop the others: one broken worker must not blind the checks to the rest.
 */
export async function forEachInstance(
  handles: readonly InstanceHandle[],
  concurrency: number,
  log: Logger,
  fn: (handle: InstanceHandle) => Promise<void>,
): Promise<void> {
  const limit = pLimit(concurrency);
  await Promise.all(
    handles.map((handle) =>
      limit(() => fn(handle)).catch((err: unknown) => log.warn(`check failed: ${coerceError(err).message}`, { instanceId: handle.id })),
    ),
  );
}
