import { decideAdmission, type AdmissionDecision, type AdmissionWait } from './admission.js';

/** The fleet's memory as the gate (and the memory report) sees it now. */
export interface FleetMemoryMeasurement {
  /** When it was read, ms epoch. */
  at: number;
  /** PSS of every running instance (worker + Chromium tree) together. */
  totalBytes: number;
  /** Each running instance's PSS. */
  byInstance: ReadonlyMap<string, number>;
  /** Expected cost of one more instance. */
  expectedBytes: number;
  /** `median` of the running CONNECTED/QR_REQUIRED instances, or the `setting` INSTANCE_EXPECTED_MB. */
  expectedFrom: 'median' | 'setting';
}

export interface StartGateOptions {
  /** LAUNCH_CONCURRENCY. */
  limit: number;
  capBytes: number;
  criticalPercent: number;
  /** The fleet's memory now; `fresh` forbids a cached reading (a launch has just become measurable). */
  measure: (fresh: boolean) => FleetMemoryMeasurement;
  /** How often a waiting queue is decided again without any event (memory freed by an exit, say). */
  retryMs?: number;
  now?: () => number;
  /** A start has begun to wait (once per wait), and one that waited was admitted. */
  onWait?: (id: string, reason: string) => void;
  onAdmit?: (id: string, waitedMs: number) => void;
}

/** A start waiting for its turn, as the instance's live view shows it. */
export interface AdmissionWaiting {
  waiting: true;
  /** Why nothing is admitted now (the oldest waiting start's reason: the queue is served in order). */
  reason: string;
  wait: AdmissionWait;
  since: Date;
  /** 1 for the oldest waiting start. */
  position: number;
}

/** An admitted launch; `release` (idempotent) frees its slot once its browser's memory is measurable. */
export interface LaunchTicket {
  release(): void;
}

export interface StartRequest {
  /** The ticket once admitted; null when the wait was cancelled (a stop) or the gate closed (shutdown). */
  ticket: Promise<LaunchTicket | null>;
  /** True when the start waits (it was not admitted at once). */
  queued: boolean;
}

export interface StartGateStats {
  launching: number;
  waiting: number;
  limit: number;
  /** Why the oldest waiting start waits; null with an empty queue. */
  reason: string | null;
}

interface Waiter {
  id: string;
  since: number;
  resolve: (ticket: LaunchTicket | null) => void;
  reason: string;
  wait: AdmissionWait;
  announced: boolean;
}

const DEFAULT_RETRY_MS = 1_000;

/**
 * The one start gate: every worker launch of the fleet asks it first. A launch is admitted when
 * `decideAdmission` says so on a memory measurement taken now; otherwise it waits in a FIFO queue
 * (oldest first, no overtaking) that is decided again whenever a launch finishes, a wait is
 * cancelled, or every `retryMs`. Shutdown closes the gate: every waiting start gives up.
 */
export class StartGate {
  private readonly queue: Waiter[] = [];
  /** Launches in progress per instance (one at most in practice: an instance has one worker slot). */
  private readonly inFlight = new Map<string, number>();
  private launchingCount = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private pumping = false;
  /** A launch finished since the last measurement: the next decision must not use a cached one. */
  private stale = true;
  private readonly now: () => number;

  constructor(private readonly options: StartGateOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 1) throw new RangeError(`StartGate: limit must be an integer >= 1, got ${options.limit}`);
    this.now = options.now ?? Date.now;
  }

  /**
   * Asks to launch `id`. Decided at once when nobody waits; otherwise (or when refused) the start
   * joins the end of the queue. A second request for an instance already waiting replaces the
   * first (which resolves null) without losing its place.
   */
  request(id: string): StartRequest {
    if (this.closed) return { ticket: Promise.resolve(null), queued: false };
    let resolve!: (ticket: LaunchTicket | null) => void;
    const ticket = new Promise<LaunchTicket | null>((r) => (resolve = r));
    const existing = this.queue.find((w) => w.id === id);
    if (existing) {
      existing.resolve(null);
      existing.resolve = resolve;
      return { ticket, queued: true };
    }
    this.queue.push({ id, since: this.now(), resolve, reason: '', wait: 'launches', announced: false });
    this.pump();
    return { ticket, queued: this.queue.some((w) => w.id === id) };
  }

  /** A stop, disable or removal: the instance leaves the queue (its request resolves null). */
  cancel(id: string): void {
    const i = this.queue.findIndex((w) => w.id === id);
    if (i < 0) return;
    const [waiter] = this.queue.splice(i, 1);
    waiter!.resolve(null);
    this.pump();
  }

  /** Shutdown: nothing is admitted any more, every waiting start resolves null. */
  close(): void {
    this.closed = true;
    this.clearTimer();
    for (const waiter of this.queue.splice(0)) waiter.resolve(null);
  }

  /** Something outside the gate freed memory (a worker stopped): decide the queue again now. */
  poke(): void {
    this.stale = true;
    this.pump();
  }

  /** The instance's wait, or null when it is not waiting. */
  waiting(id: string): AdmissionWaiting | null {
    const i = this.queue.findIndex((w) => w.id === id);
    if (i < 0) return null;
    const w = this.queue[i]!;
    return { waiting: true, reason: w.reason, wait: w.wait, since: new Date(w.since), position: i + 1 };
  }

  isWaiting(id: string): boolean {
    return this.queue.some((w) => w.id === id);
  }

  get launching(): number {
    return this.launchingCount;
  }

  /** The instances whose admitted launch is in progress. */
  launchingIds(): string[] {
    return [...this.inFlight.keys()];
  }

  stats(): StartGateStats {
    return { launching: this.launchingCount, waiting: this.queue.length, limit: this.options.limit, reason: this.queue[0]?.reason ?? null };
  }

  /** What a start would be told now about memory alone (critical level, cap); null when memory allows one. */
  memoryRefusal(measurement: FleetMemoryMeasurement = this.options.measure(false)): string | null {
    const decision = this.decide(measurement, 0);
    return decision.admit ? null : decision.reason;
  }

  private decide(m: FleetMemoryMeasurement, launching = this.launchingCount): AdmissionDecision {
    let pendingBytes = 0;
    for (const id of this.inFlight.keys()) pendingBytes += Math.max(0, m.expectedBytes - (m.byInstance.get(id) ?? 0)) * (this.inFlight.get(id) ?? 0);
    return decideAdmission({
      launching,
      limit: this.options.limit,
      fleetBytes: m.totalBytes,
      pendingBytes: launching === 0 ? 0 : pendingBytes,
      expectedBytes: m.expectedBytes,
      capBytes: this.options.capBytes,
      criticalPercent: this.options.criticalPercent,
    });
  }

  /** Admits from the head of the queue while the decision allows; records the head's reason on every waiter otherwise. */
  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        const fresh = this.stale;
        this.stale = false;
        const decision = this.decide(this.options.measure(fresh));
        if (!decision.admit) {
          for (const w of this.queue) {
            w.reason = decision.reason;
            w.wait = decision.wait;
            if (!w.announced) {
              w.announced = true;
              this.options.onWait?.(w.id, decision.reason);
            }
          }
          this.armTimer();
          return;
        }
        const head = this.queue.shift()!;
        if (head.announced) this.options.onAdmit?.(head.id, this.now() - head.since);
        head.resolve(this.admit(head.id));
      }
      this.clearTimer();
    } finally {
      this.pumping = false;
    }
  }

  private admit(id: string): LaunchTicket {
    this.launchingCount++;
    this.inFlight.set(id, (this.inFlight.get(id) ?? 0) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.launchingCount--;
        const left = (this.inFlight.get(id) ?? 1) - 1;
        if (left > 0) this.inFlight.set(id, left);
        else this.inFlight.delete(id);
        // Its browser is measurable now (or gone): the next decision reads memory afresh.
        this.stale = true;
        this.pump();
      },
    };
  }

  private armTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.pump(), this.options.retryMs ?? DEFAULT_RETRY_MS);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
