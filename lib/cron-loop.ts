import cron, { type Logger, type ScheduledTask } from 'node-cron';
import { coerceError, serializeError, type SerializedError } from './errors.js';

export interface CronLoopOptions {
  /** Shows up in node-cron's task list and in error reports. */
  name: string;
  /** node-cron expression; a leading seconds field is allowed (`*\/5 * * * * *`). */
  schedule: string;
  /** One tick. `signal` aborts when the loop stops, so long ticks can give up early. */
  task: (signal: AbortSignal) => Promise<void>;
  onError?: (error: Error) => void;
  /** Called when a tick is due while the previous one is still running. */
  onSkip?: () => void;
  /** Wait this long after start() before scheduling, so loops started together do not fire together. */
  startDelayMs?: number;
}

export interface CronLoopStats {
  /** Ticks started (failed ones included). */
  runs: number;
  /** Ticks not started because the previous one was still running. */
  skips: number;
  errors: number;
  running: boolean;
  lastRunAt: Date | null;
  lastDurationMs: number | null;
  /** The most recent failure; kept after later successes so a flapping loop stays visible. */
  lastError: SerializedError | null;
}

/**
 * A background loop on node-cron that never overlaps itself and never throws. The overlap guard is
 * ours rather than node-cron's `noOverlap`, so that runNow() obeys the same guard and skips are
 * counted. Errors go to onError: a background loop has no caller to throw to.
 */
export class CronLoop {
  readonly name: string;
  readonly #opts: CronLoopOptions;
  #task: ScheduledTask | null = null;
  #startTimer: NodeJS.Timeout | null = null;
  #current: { promise: Promise<void>; abort: AbortController } | null = null;
  #runs = 0;
  #skips = 0;
  #errors = 0;
  #lastRunAt: Date | null = null;
  #lastDurationMs: number | null = null;
  #lastError: SerializedError | null = null;

  constructor(opts: CronLoopOptions) {
    if (!cron.validate(opts.schedule)) {
      throw new RangeError(`CronLoop ${opts.name}: schedule is not a valid cron expression: "${opts.schedule}"`);
    }
    const delay = opts.startDelayMs ?? 0;
    if (!Number.isFinite(delay) || delay < 0) {
      throw new RangeError(`CronLoop ${opts.name}: startDelayMs must be a finite number >= 0, got ${delay}`);
    }
    this.name = opts.name;
    this.#opts = opts;
  }

  /** Starts scheduling; calling it while started does nothing. */
  start(): void {
    if (this.#task || this.#startTimer) return;
    const delay = this.#opts.startDelayMs ?? 0;
    if (delay === 0) {
      this.#schedule();
      return;
    }
    this.#startTimer = setTimeout(() => {
      this.#startTimer = null;
      this.#schedule();
    }, delay);
  }

  /** Stops scheduling, aborts the tick in progress and waits for it to finish. */
  async stop(): Promise<void> {
    if (this.#startTimer) clearTimeout(this.#startTimer);
    this.#startTimer = null;
    const task = this.#task;
    this.#task = null;
    await task?.destroy();
    const current = this.#current;
    if (!current) return;
    current.abort.abort();
    await current.promise;
  }

  /** Runs one tick now unless one is already running; resolves to whether it ran, once it is done. */
  async runNow(): Promise<boolean> {
    if (this.#current) {
      this.#skip();
      return false;
    }
    await this.#run();
    return true;
  }

  stats(): CronLoopStats {
    return {
      runs: this.#runs,
      skips: this.#skips,
      errors: this.#errors,
      running: this.#current !== null,
      lastRunAt: this.#lastRunAt,
      lastDurationMs: this.#lastDurationMs,
      lastError: this.#lastError,
    };
  }

  #schedule(): void {
    // The callback does not return the tick's promise: node-cron must not track (or log) our ticks.
    this.#task = cron.createTask(this.#opts.schedule, () => void this.runNow(), {
      name: this.name,
      logger: this.#logger(),
    });
    Promise.resolve(this.#task.start()).catch((error: unknown) => this.#reportError(error));
  }

  /** node-cron would otherwise write to the console; lib code reports through its owner instead. */
  #logger(): Logger {
    const ignore = (): void => {};
    return { info: ignore, warn: ignore, debug: ignore, error: (message) => this.#reportError(message) };
  }

  #run(): Promise<void> {
    const abort = new AbortController();
    // Claimed before the task is called: a task that throws synchronously still releases it below.
    const current = { promise: Promise.resolve(), abort };
    this.#current = current;
    current.promise = this.#execute(abort.signal);
    return current.promise;
  }

  async #execute(signal: AbortSignal): Promise<void> {
    const startedAt = Date.now();
    this.#runs++;
    this.#lastRunAt = new Date(startedAt);
    try {
      await this.#opts.task(signal);
    } catch (error) {
      this.#errors++;
      this.#lastError = serializeError(error);
      this.#reportError(error);
    } finally {
      this.#lastDurationMs = Date.now() - startedAt;
      this.#current = null;
    }
  }

  #skip(): void {
    this.#skips++;
    this.#callSafely(() => this.#opts.onSkip?.());
  }

  #reportError(error: unknown): void {
    const onError = this.#opts.onError;
    if (onError) this.#callSafely(() => onError(coerceError(error)));
  }

  /** A throwing callback must not break the loop (or escape into node-cron's timer). */
  #callSafely(fn: () => void): void {
    try {
      fn();
    } catch {
      // Nothing left to report to: the reporting callback itself failed.
    }
  }
}

const SECONDS_PER_MINUTE = 60;
const SECONDS_PER_HOUR = 3600;

/**
 * The node-cron expression that fires every `ms`, aligned to the clock. Only intervals that
 * divide their unit evenly can be expressed (`*\/7` seconds would fire at :56 then :00 again);
 * anything else is a RangeError rather than a silently different schedule.
 */
export function intervalToCron(ms: number): string {
  const seconds = ms / 1000;
  if (!Number.isInteger(seconds) || seconds <= 0) {
    throw new RangeError(`intervalToCron: ${ms} ms is not a positive whole number of seconds`);
  }
  if (seconds < SECONDS_PER_MINUTE && SECONDS_PER_MINUTE % seconds === 0) {
    return seconds === 1 ? '* * * * * *' : `*/${seconds} * * * * *`;
  }
  const minutes = seconds / SECONDS_PER_MINUTE;
  if (Number.isInteger(minutes) && minutes < 60 && 60 % minutes === 0) {
    return minutes === 1 ? '0 * * * * *' : `0 */${minutes} * * * *`;
  }
  const hours = seconds / SECONDS_PER_HOUR;
  if (Number.isInteger(hours) && hours < 24 && 24 % hours === 0) {
    return hours === 1 ? '0 0 * * * *' : `0 0 */${hours} * * *`;
  }
  if (hours === 24) return '0 0 0 * * *';
  throw new RangeError(
    `intervalToCron: ${ms} ms is not a whole number of seconds dividing 60, minutes dividing 60 or hours dividing 24`,
  );
}
