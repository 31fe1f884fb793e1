import { OneShotTimer } from '../../../lib/one-shot-timer.js';
import { decideReconnect, type ReconnectDecision, type ReconnectPolicy } from '../reconnect-policy.js';

/**
 * The instance's next reconnect: the policy decides (backoff, cap, reasons that wait for a human),
 * this holds the one timer that carries it out. Cleared by any start or stop, so a reconnect
 * never races an operator's action.
 */
export class ReconnectTimer {
  private readonly timer: OneShotTimer;

  constructor(
    private readonly policy: ReconnectPolicy,
    private readonly random: () => number = Math.random,
    now?: () => Date,
  ) {
    this.timer = new OneShotTimer(now);
  }

  /** What the policy says after `reason`, with `attempts` already made. Pure: nothing is scheduled. */
  decide(reason: string, attempts: number, connectedForMs: number | null = null): ReconnectDecision {
    return decideReconnect({ reason, attempt: attempts, policy: this.policy, connectedForMs }, this.random);
  }

  schedule(delayMs: number, reconnect: () => void): void {
    this.timer.clear();
    this.timer.arm(delayMs, reconnect);
  }

  get nextAt(): Date | null {
    return this.timer.nextAt;
  }

  clear(): void {
    this.timer.clear();
  }
}
