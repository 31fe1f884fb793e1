import { sleep } from '../../../lib/timeout.js';
import type { WorkerClient } from '../../worker/handle.js';

/** How often an abandoned start in progress is reaped again until it has given up. */
const REAP_AGAIN_MS = 500;

/**
 * The instance's one worker: the running one, the start in progress, and the generation that
 * tells a current worker's events from a dropped one's. Every start, stop and kill bumps the
 * generation, so a late event or exit of an old worker is recognised and ignored.
 */
export class WorkerSlot {
  private worker: WorkerClient | null = null;
  private starting: Promise<void> | null = null;
  /** A worker asked to stop and not gone yet: it still holds the profile. */
  private stopping: Promise<unknown> | null = null;
  private gen = 0;
  private since: Date | null = null;

  constructor(private readonly now: () => Date = () => new Date()) {}

  get generation(): number {
    return this.gen;
  }

  /** The worker once its start has finished; never waits for a start in progress. */
  get current(): WorkerClient | null {
    return this.worker;
  }

  /**
   * A worker runs, is starting, or is still stopping: until it is gone it holds the profile, so
   * nobody may start another, and an instance whose status has not moved yet is not "without a worker".
   */
  get occupied(): boolean {
    return this.worker !== null || this.starting !== null || this.stopping !== null;
  }

  get startedAt(): Date | null {
    return this.since;
  }

  /** The start in progress, if any (the caller may wait on it). */
  get pendingStart(): Promise<void> | null {
    return this.starting;
  }

  /** The running worker, once a start in progress has finished (a QR can arrive before it has). */
  async running(): Promise<WorkerClient | null> {
    await this.starting;
    return this.worker;
  }

  /** Runs `start` as the slot's one start in progress; a second call while it runs joins it. */
  begin(start: (generation: number) => Promise<void>): Promise<void> {
    if (this.starting) return this.starting;
    const generation = ++this.gen;
    this.starting = start(generation).finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  isCurrent(generation: number): boolean {
    return generation === this.gen;
  }

  /** Installs a started worker if its start is still the current one; false: it is nobody's. */
  install(worker: WorkerClient, generation: number): boolean {
    if (!this.isCurrent(generation)) return false;
    this.worker = worker;
    this.since = this.now();
    return true;
  }

  /** Invalidates whatever runs or starts now without touching it; returns the new generation. */
  bump(): number {
    return ++this.gen;
  }

  /** Stops and forgets the current worker politely; its late events and exit are ignored. */
  async drop(stopTimeoutMs: number): Promise<void> {
    const worker = this.release();
    if (!worker) return;
    const stopping = worker.stop(stopTimeoutMs);
    this.stopping = stopping;
    try {
      await stopping;
    } finally {
      if (this.stopping === stopping) this.stopping = null;
    }
  }

  /**
   * Kills the worker (and a start in progress) without asking it anything, and reaps until the
   * abandoned start has given up. Returns the generation it left, so the caller can tell whether
   * someone else (a stop, another start) took over meanwhile.
   */
  async abandon(reap: () => Promise<unknown>): Promise<number> {
    const pending = this.starting;
    const worker = this.release();
    const generation = this.gen;
    worker?.kill();
    await reap();
    await worker?.exited;
    if (pending) {
      // A start blocked in a page that never loads gives up once its browser is gone.
      let settled = false;
      void pending.then(
        () => (settled = true),
        () => (settled = true),
      );
      while (!settled) {
        await Promise.race([pending.catch(() => undefined), sleep(REAP_AGAIN_MS)]);
        if (!settled) await reap();
      }
    }
    return generation;
  }

  private release(): WorkerClient | null {
    const worker = this.worker;
    this.worker = null;
    this.since = null;
    this.gen++;
    return worker;
  }
}
