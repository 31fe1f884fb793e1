/**
 * One pending call at most: `arm` while armed does nothing (the first deadline stands), `clear`
 * forgets it. The reconnect delay and the QR idle limit are both this; the timer never keeps the
 * process alive on its own (unref), so a stopped fleet is not held open by a reconnect due later.
 */
export class OneShotTimer {
  private timer: NodeJS.Timeout | null = null;
  private dueAt: Date | null = null;

  constructor(private readonly now: () => Date = () => new Date()) {}

  get armed(): boolean {
    return this.timer !== null;
  }

  /** When the call is due, or null. */
  get nextAt(): Date | null {
    return this.dueAt;
  }

  /** Calls `fn` after `delayMs` unless cleared first; false (and nothing changes) when already armed. */
  arm(delayMs: number, fn: () => void): boolean {
    if (this.timer) return false;
    this.dueAt = new Date(this.now().getTime() + delayMs);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.dueAt = null;
      fn();
    }, delayMs);
    this.timer.unref();
    return true;
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.dueAt = null;
  }
}
