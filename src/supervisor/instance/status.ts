import type { TransitionPatch } from '../../db/instances-repository.js';
import { type ConnectionStatus, type Health, type Instance, type NewEvent, type Severity } from '../../domain/instance.js';
import { Category, type Logger } from '../../logger/index.js';
import type { Journal } from '../journal.js';
import type { Notice } from '../notice.js';
import { LifecycleEvent, nextStatus } from '../state-machine.js';

export interface MoveOptions {
  /** Columns changed with the status. */
  patch?: TransitionPatch;
  data?: Record<string, unknown>;
  severity?: Severity;
  category?: string;
  /** Announced with this change (webhooks in its transaction, then the bus). */
  notify?: Notice[];
}

/**
 * What the instance is doing (status, why, since when) and the checks' verdict on it (health).
 * `move` is the only status setter: it asks the state machine, updates the live view, and hands
 * the change to the journal (row, event, `connection.update` and any other notices) in one entry.
 */
export class StatusCore {
  private current: ConnectionStatus;
  private why: string | null;
  private changedAt: Date;
  private verdict: Health;
  private verdictReason: string | null;

  constructor(
    private readonly id: string,
    row: Pick<Instance, 'connectionStatus' | 'statusReason' | 'statusChangedAt' | 'health' | 'healthReason'>,
    private readonly journal: Journal,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.current = row.connectionStatus;
    this.why = row.statusReason;
    this.changedAt = row.statusChangedAt;
    this.verdict = row.health;
    this.verdictReason = row.healthReason;
    journal.track(id, row.connectionStatus);
  }

  get status(): ConnectionStatus {
    return this.current;
  }

  get reason(): string | null {
    return this.why;
  }

  get statusChangedAt(): Date {
    return this.changedAt;
  }

  get health(): Health {
    return this.verdict;
  }

  get healthReason(): string | null {
    return this.verdictReason;
  }

  /** The single status setter. Returns false when the state machine refuses the move. */
  async move(event: LifecycleEvent, reason: string | null, options: MoveOptions = {}): Promise<boolean> {
    const step = nextStatus(this.current, event);
    if (!step.ok) {
      this.log.warn(`illegal transition rejected: ${this.current} on ${event} (${step.reason})`, { reason });
      return false;
    }
    if (!step.changed && reason === this.why && !options.patch) return true;
    const previous = this.current;
    const at = this.now();
    this.current = step.to;
    this.why = reason;
    if (step.changed) this.changedAt = at;
    const notify: Notice[] = [
      ...(step.changed ? [{ name: 'connection.update', payload: { instanceId: this.id, status: step.to, previous, reason, at } } as const] : []),
      ...(options.notify ?? []),
    ];
    await this.journal.record({
      instanceId: this.id,
      change: { kind: 'status', to: step.to, reason, ...(options.patch ? { patch: options.patch } : {}) },
      event: { category: options.category ?? Category.SESSION, type: `status.${event}`, severity: options.severity ?? null, data: options.data ?? null },
      notify,
    });
    this.log.info(`${previous} → ${step.to}${reason ? ` (${reason})` : ''}`, options.data ?? {});
    return true;
  }

  /**
   * The checks' verdict. A new health is recorded with a `health.changed` event and announced
   * (`instance.health`); a new reason for the same health only updates the live view, or every
   * tick of a `stuck_in_LOADING_<n>s` would write a row.
   */
  async setHealth(health: Health, reason: string | null, severity?: NewEvent['severity']): Promise<void> {
    const previous = this.verdict;
    this.verdictReason = reason;
    if (health === previous) return;
    this.verdict = health;
    const at = this.now();
    await this.journal.record({
      instanceId: this.id,
      change: { kind: 'health', health, reason },
      event: { category: Category.HEALTH, type: 'health.changed', reason, severity: severity ?? null, data: { from: previous, to: health } },
      notify: [{ name: 'instance.health', payload: { instanceId: this.id, health, reason, at }, ...(severity ? { severity } : {}) }],
    });
  }
}
