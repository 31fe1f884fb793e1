export type Limiter = <T>(fn: () => Promise<T>) => Promise<T>;

function requireConcurrency(name: string, concurrency: number): void {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`${name}: concurrency must be an integer >= 1, got ${concurrency}`);
  }
}

/**
 * Runs at most `concurrency` of the functions handed to it at once, the rest in FIFO order.
 * Each call's promise settles with its own function's outcome, so one failure touches no other task.
 */
export function createLimiter(concurrency: number): Limiter {
  requireConcurrency('createLimiter', concurrency);
  let active = 0;
  const waiting: Array<() => void> = [];

  const release = (): void => {
    active--;
    const next = waiting.shift();
    if (next) {
      active++;
      next();
    }
  };

  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active < concurrency) {
      active++;
    } else {
      // The releasing task hands its slot over directly, so a newcomer cannot jump the queue.
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    try {
      return await fn();
    } finally {
      release();
    }
  };
}

/**
 * `fn` over every item with at most `concurrency` in flight; results keep the items' order.
 * After the first failure no new items start, the ones in flight are waited for (so nothing keeps
 * running behind the caller's back), and then that first error is thrown.
 */
export async function mapLimit<I, R>(
  items: readonly I[],
  concurrency: number,
  fn: (item: I, index: number) => Promise<R>,
): Promise<R[]> {
  requireConcurrency('mapLimit', concurrency);
  const limit = createLimiter(concurrency);
  const failures: unknown[] = [];
  const results = new Array<R>(items.length);
  await Promise.all(
    items.map((item, index) =>
      limit(async () => {
        if (failures.length > 0) return;
        try {
          results[index] = await fn(item, index);
        } catch (error) {
          failures.push(error);
        }
      }),
    ),
  );
  if (failures.length > 0) throw failures[0];
  return results;
}
