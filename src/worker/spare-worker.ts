import { coerceError } from '../../lib/errors.js';
import type { WorkerHandle } from './handle.js';

/** The spare now: loaded and waiting (`ready`), still loading (`forking`), none, or WORKER_SPARE=off. */
export interface SpareView {
  state: 'ready' | 'forking' | 'none' | 'off';
  pid: number | null;
}

/**
 * One worker forked ahead of need: Node started and whatsapp-web.js loaded (it said hello), no
 * browser, no instance. The next start takes it and pays only for the browser and the page
 * (`npm run bench:footprint`: the fork and the library cost about as much as the browser's launch).
 * A new spare is forked only when asked (`fill`, after each launch has finished), so it never
 * competes with the launch that took the last one, and a spare that keeps failing costs at most
 * one fork per launch. It holds no profile: `take` hands it out, `init` makes it an instance's.
 */
export class SpareWorker {
  private ready: WorkerHandle | null = null;
  private forking: WorkerHandle | null = null;
  private closed = false;

  constructor(
    private readonly fork: () => WorkerHandle,
    private readonly helloTimeoutMs: number,
    private readonly onFailure: (message: string) => void = () => undefined,
  ) {}

  /** The pid of the spare ready to be taken, if any (the start that takes it logs it). */
  get readyPid(): number | null {
    const { state, pid } = this.view();
    return state === 'ready' ? pid : null;
  }

  /** What `GET /api/health` shows: a worker process that is no instance's is this one, and no other. */
  view(): SpareView {
    if (this.ready?.alive) return { state: 'ready', pid: this.ready.pid };
    if (this.forking?.alive) return { state: 'forking', pid: this.forking.pid };
    return { state: 'none', pid: null };
  }

  /** Forks a spare unless one is ready or on its way (or the fleet is closing). */
  fill(): void {
    if (this.closed || this.ready || this.forking) return;
    let worker: WorkerHandle;
    try {
      worker = this.fork();
    } catch (err) {
      this.onFailure(`a spare worker could not be forked: ${coerceError(err).message}`);
      return;
    }
    this.forking = worker;
    void worker.exited.then(() => {
      if (this.ready === worker) this.ready = null;
    });
    worker.hello(this.helloTimeoutMs).then(
      () => {
        this.forking = null;
        if (this.closed) worker.kill();
        else this.ready = worker;
      },
      (err: unknown) => {
        this.forking = null;
        worker.kill();
        this.onFailure(`a spare worker did not start: ${coerceError(err).message}`);
      },
    );
  }

  /** The spare, now the caller's; null when none is ready (the caller forks one itself). Never a dead one. */
  take(): WorkerHandle | null {
    const worker = this.ready;
    this.ready = null;
    return worker?.alive ? worker : null;
  }

  /** Shutdown: the spare (ready or on its way) is killed, and none is forked again. */
  async close(): Promise<void> {
    this.closed = true;
    const left = [this.ready, this.forking].filter((w): w is WorkerHandle => w !== null);
    this.ready = null;
    for (const worker of left) worker.kill();
    await Promise.all(left.map((w) => w.exited));
  }
}
