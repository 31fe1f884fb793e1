import { OneShotTimer } from '../../../lib/one-shot-timer.js';

/**
 * How long an instance may hold a browser open showing QRs nobody scans (QR_IDLE_TIMEOUT_MS).
 * Armed by the first QR of a wait, not re-armed by rotations: the limit is on the whole wait.
 * On expiry the handle stops the worker; the status stays QR_REQUIRED (reason `qr_timeout`), and
 * asking for the QR starts it again.
 */
export class QrIdleTimer {
  private readonly timer = new OneShotTimer();

  constructor(private readonly idleMs: number) {}

  arm(onIdle: () => void): void {
    this.timer.arm(this.idleMs, onIdle);
  }

  clear(): void {
    this.timer.clear();
  }

  get armed(): boolean {
    return this.timer.armed;
  }
}
