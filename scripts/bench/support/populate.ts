import type { Fleet } from '../../../src/supervisor/fleet.js';
import { waitForStatus } from '../../../tests/support/fleet.js';

export interface PopulateOptions {
  /** Instances at these positions of `ids` are linked (scanned) after their QR; the others stay at QR_REQUIRED. */
  linked: (index: number) => boolean;
  /** Workers starting at once: a burst of forks on a small machine overruns the start timeout. */
  lanes: number;
  /** Bound on each wait for a status (QR shown, connected). */
  statusTimeoutMs: number;
  onProgress: (done: number, total: number) => void;
}

/** Creations tried again after the database chose them as a deadlock's victim (rolled back, so safe to repeat). */
const DEADLOCK_ATTEMPTS = 5;

const isDeadlock = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === 'ER_LOCK_DEADLOCK';

async function createRetryingDeadlocks(fleet: Fleet, id: string, onDeadlock: () => void): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await fleet.create(id);
      return;
    } catch (err) {
      if (!isDeadlock(err) || attempt >= DEADLOCK_ATTEMPTS) throw err;
      onDeadlock();
    }
  }
}

/**
 * Creates every instance, waits for its QR, and links the chosen ones with `fleet.simulate(id,
 * 'scan')`; resolves with the number of creations the database rolled back in a deadlock and
 * that were tried again. Creations go one at a time, while up to `lanes` workers start and link
 * in parallel. Even so a creation can deadlock with the status writes of the instances starting
 * meanwhile (each takes a gap lock on the event index with `MAX(seq) ... FOR UPDATE`, then
 * inserts into the gap): the count says how often, rather than the bench hiding it.
 */
export async function populateFleet(fleet: Fleet, ids: readonly string[], options: PopulateOptions): Promise<{ deadlockedCreations: number }> {
  let deadlockedCreations = 0;
  let creations: Promise<unknown> = Promise.resolve();
  const createAlone = (id: string): Promise<unknown> =>
    (creations = creations.catch(() => undefined).then(() => createRetryingDeadlocks(fleet, id, () => deadlockedCreations++)));
  let taken = 0;
  let done = 0;
  // After a failure the other lanes take no new instance, so nothing starts while the caller cleans up.
  let failed = false;

  async function prepare(index: number): Promise<void> {
    const id = ids[index]!;
    await createAlone(id);
    await waitForStatus(fleet, id, 'QR_REQUIRED', options.statusTimeoutMs);
    if (options.linked(index)) {
      await fleet.simulate(id, 'scan');
      await waitForStatus(fleet, id, 'CONNECTED', options.statusTimeoutMs);
    }
  }

  async function lane(): Promise<void> {
    while (!failed && taken < ids.length) {
      try {
        await prepare(taken++);
      } catch (err) {
        failed = true;
        throw err;
      }
      options.onProgress(++done, ids.length);
    }
  }

  await Promise.all(Array.from({ length: Math.min(options.lanes, ids.length) }, lane));
  return { deadlockedCreations };
}
