import { FreshRead } from './fresh-read.js';

export interface SettledReadOptions<T> {
  /**
   * A number that moves whenever a change the read could see begins or ends (a write counter
   * bumped at both ends of every write); null when changes cannot be known here: never reuse.
   */
  version: () => number | null;
  /** The oldest result served again, in ms: the bound on staleness from changes `version` does not see. */
  maxAgeMs: number;
  /** Whether a result may be served again (e.g. not a null standing for "unreachable"). Default: any. */
  keep?: (value: T) => boolean;
  now?: () => number;
}

interface Result<T> {
  value: T;
  version: number | null;
  at: number;
}

/**
 * A read answered again while nothing it could see has changed: the last result is served when
 * `version()` is what it was when that result's run started (so no write began or ended since)
 * and it is younger than `maxAgeMs`. Otherwise a run starts, shared with the callers that come
 * while it is in flight (FreshRead: never a run that began before the call).
 */
export class SettledRead<T> {
  private last: Result<T> | null = null;
  private readonly fresh: FreshRead<Result<T>>;
  private readonly now: () => number;

  constructor(
    run: () => Promise<T>,
    private readonly options: SettledReadOptions<T>,
  ) {
    this.now = options.now ?? Date.now;
    this.fresh = new FreshRead(async () => {
      // Read before the run starts: a write that ends during the run moves it, and the result is not reused.
      const version = this.options.version();
      const at = this.now();
      return { value: await run(), version, at };
    });
  }

  /** Runs started, for tests and benches. */
  get runs(): number {
    return this.fresh.runs;
  }

  async read(): Promise<T> {
    const last = this.last;
    const version = this.options.version();
    if (last && version !== null && last.version === version && this.now() - last.at < this.options.maxAgeMs) return last.value;
    const result = await this.fresh.read();
    const keep = this.options.keep?.(result.value) ?? true;
    if (!this.last || result.at >= this.last.at) this.last = keep ? result : null;
    return result.value;
  }
}
