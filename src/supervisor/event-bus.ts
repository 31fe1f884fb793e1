import type { ConnectionStatus, Health, Severity } from '../domain/instance.js';

/*
 * The fleet's in-process event bus: part of the package's public API, so a host application that
 * embeds the fleet can subscribe (and unsubscribe without leaking). Event names are the seeds'.
 */

export interface ConnectionUpdateEvent {
  instanceId: string;
  status: ConnectionStatus;
  /** Null when the fleet had no earlier status for the instance (just created). */
  previous: ConnectionStatus | null;
  reason: string | null;
  at: Date;
}

export interface QrCodeUpdatedEvent {
  instanceId: string;
  qr: string;
  at: Date;
}

export interface StatusInstanceEvent {
  instanceId: string;
  status: ConnectionStatus;
  health: Health;
  reason: string | null;
  at: Date;
}

export interface ReconnectFailedEvent {
  instanceId: string;
  attempts: number;
  reason: string;
  at: Date;
}

export interface LogoutInstanceEvent {
  instanceId: string;
  reason: string;
  at: Date;
}

export interface RemoveInstanceEvent {
  instanceId: string;
  at: Date;
}

export interface NoConnectionEvent {
  instanceId: string;
  reason: string;
  at: Date;
}

export interface InstanceHealthEvent {
  instanceId: string;
  health: Health;
  reason: string | null;
  at: Date;
}

export interface MemoryAlertEvent {
  /** Null when the alert is about the whole host, not one instance. */
  instanceId: string | null;
  level: 'warn' | 'critical' | 'instance_cap' | 'leak';
  message: string;
  at: Date;
}

export interface RecoveryStepEvent {
  instanceId: string;
  step: string;
  outcome: string;
  /** The verdict that sent the instance up the ladder. */
  reason: string | null;
  durationMs: number;
  at: Date;
}

/** A message the linked phone received, or sent itself from the phone (`fromMe`); `id` is WhatsApp's, for dedupe. */
export interface MessageReceivedEvent {
  instanceId: string;
  id: string;
  chatId: string;
  from: string;
  to: string;
  fromMe: boolean;
  type: string;
  body: string | null;
  /** WhatsApp's own time of the message, epoch seconds. */
  timestamp: number | null;
  hasMedia: boolean;
  quotedId: string | null;
  at: Date;
}

/** A queued message changed state on wa-fleet's side: sent, failed, expired or unknown (receipts are `message.ack`). */
export interface MessageStatusEvent {
  instanceId: string;
  /** wa-fleet's id of the message (the one POST /messages answered with). */
  messageId: string;
  chatId: string;
  status: 'sent' | 'failed' | 'expired' | 'unknown';
  waMessageId: string | null;
  reason: string | null;
  at: Date;
}

/** A receipt from WhatsApp for a message the linked phone sent (through wa-fleet or from the phone). */
export interface MessageAckEvent {
  instanceId: string;
  /** WhatsApp's serialized message id. */
  id: string;
  chatId: string;
  ack: number;
  /** `sent` (server), `delivered` (device), `read` (read or played), `error`, `pending`. */
  status: 'pending' | 'sent' | 'delivered' | 'read' | 'error';
  /** wa-fleet's id when the message went through its queue, else null (sent from the phone). */
  messageId: string | null;
  at: Date;
}

/** CLUSTER=on: a node stopped renewing (its heartbeat is older than its lease TTL); its instances move. */
export interface NodeDownEvent {
  /** Always null: a node event is fleet-wide, delivered to NOTIFICATION_WEBHOOK_URL. */
  instanceId: null;
  node: string;
  /** Instances whose lease it still held when it was seen dead. */
  instances: number;
  lastHeartbeatAt: Date | null;
  at: Date;
}

/** CLUSTER=on: an instance changed node (its node died, was stopped or drained); `from` is null when it had none. */
export interface InstanceMovedEvent {
  instanceId: string;
  from: string | null;
  to: string;
  /** The lease epoch the new node holds: every write of the old one is refused from now on. */
  epoch: number;
  at: Date;
}

export interface FleetEventMap {
  'connection.update': ConnectionUpdateEvent;
  'qrcode.updated': QrCodeUpdatedEvent;
  'status.instance': StatusInstanceEvent;
  'reconnect.failed': ReconnectFailedEvent;
  'logout.instance': LogoutInstanceEvent;
  'remove.instance': RemoveInstanceEvent;
  'no.connection': NoConnectionEvent;
  'instance.health': InstanceHealthEvent;
  'memory.alert': MemoryAlertEvent;
  'recovery.step': RecoveryStepEvent;
  'message.received': MessageReceivedEvent;
  'message.status': MessageStatusEvent;
  'message.ack': MessageAckEvent;
  'node.down': NodeDownEvent;
  'instance.moved': InstanceMovedEvent;
}
export type FleetEventName = keyof FleetEventMap;

/** Default severity per event, for notifications and the audit log; a caller may raise it. */
export const SEVERITY: Readonly<Record<FleetEventName, Severity>> = Object.freeze({
  'reconnect.failed': 'HIGH',
  'logout.instance': 'HIGH',
  'no.connection': 'MEDIUM',
  'remove.instance': 'MEDIUM',
  'instance.health': 'MEDIUM',
  'memory.alert': 'MEDIUM',
  'recovery.step': 'MEDIUM',
  'connection.update': 'LOW',
  'qrcode.updated': 'LOW',
  'status.instance': 'LOW',
  'message.received': 'LOW',
  'message.status': 'LOW',
  'message.ack': 'LOW',
  'node.down': 'HIGH',
  'instance.moved': 'MEDIUM',
});
export const FLEET_EVENT_NAMES = Object.keys(SEVERITY) as FleetEventName[];

/**
 * Returns void so any function fits (`(p) => list.push(p)` included); an async one is allowed and
 * its rejection is reported like a throw.
 */
export type FleetListener<K extends FleetEventName> = (payload: FleetEventMap[K]) => void;
/** `[name, payload]` pairs, so an onAny listener narrows `payload` by checking `name`. */
export type FleetEventArgs = { [K in FleetEventName]: [name: K, payload: FleetEventMap[K]] }[FleetEventName];
export type AnyFleetListener = (...args: FleetEventArgs) => void;
export type Unsubscribe = () => void;

export interface FleetEventBusOptions {
  /** Receives what a listener threw or rejected with; the emitter and the other listeners never see it. */
  onListenerError: (error: unknown, name: FleetEventName) => void;
}

/** One subscription; a distinct object so the same function subscribed twice is two subscriptions. */
interface Subscription {
  readonly call: (...args: FleetEventArgs) => unknown;
  readonly listener: unknown;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

export class FleetEventBus {
  private readonly byName = new Map<FleetEventName, Set<Subscription>>();
  private readonly any = new Set<Subscription>();

  constructor(private readonly options: FleetEventBusOptions) {}

  on<K extends FleetEventName>(name: K, listener: FleetListener<K>): Unsubscribe {
    const subscription: Subscription = { listener, call: (_name, payload) => listener(payload as FleetEventMap[K]) };
    return this.add(name, subscription);
  }

  /**
   * Like `on`, for one call: removed before that call so even a throwing listener runs once, and
   * flagged so an emit nested inside another listener cannot call it a second time.
   */
  once<K extends FleetEventName>(name: K, listener: FleetListener<K>): Unsubscribe {
    let called = false;
    const subscription: Subscription = {
      listener,
      call: (_name, payload) => {
        unsubscribe();
        if (called) return;
        called = true;
        return listener(payload as FleetEventMap[K]);
      },
    };
    const unsubscribe = this.add(name, subscription);
    return unsubscribe;
  }

  /** Removes one subscription of `listener` (made with on or once), as EventEmitter#off does. */
  off<K extends FleetEventName>(name: K, listener: FleetListener<K>): void {
    const subscriptions = this.byName.get(name);
    if (subscriptions === undefined) return;
    for (const subscription of subscriptions) {
      if (subscription.listener === listener) {
        this.remove(name, subscription);
        return;
      }
    }
  }

  /**
   * Every event, in emit order (webhooks and SSE forward them all). The second signature exists
   * because TypeScript will not match a one-parameter function against the tuple union.
   */
  onAny(listener: AnyFleetListener): Unsubscribe;
  onAny(listener: (name: FleetEventName) => void): Unsubscribe;
  onAny(listener: AnyFleetListener | ((name: FleetEventName) => void)): Unsubscribe {
    // Sound: a one-parameter function ignores the payload it is also given.
    const subscription: Subscription = { listener, call: listener as AnyFleetListener };
    this.any.add(subscription);
    return () => {
      this.any.delete(subscription);
    };
  }

  /**
   * Calls the listeners of `name`, then the onAny ones, synchronously. A failing listener is
   * reported to `onListenerError` and the rest still run: one subscriber's bug must not stop the
   * status setter that emitted, nor the other subscribers.
   */
  emit<K extends FleetEventName>(name: K, payload: FleetEventMap[K]): void {
    // Snapshots: listeners that (un)subscribe during the emit affect only later emits.
    const targets = [...(this.byName.get(name) ?? []), ...this.any];
    const args = [name, payload] as FleetEventArgs;
    for (const subscription of targets) this.invoke(subscription, args);
  }

  /** With a name: how many listeners an emit of it would call (its own and onAny). Without: every subscription. */
  listenerCount(name?: FleetEventName): number {
    if (name !== undefined) return (this.byName.get(name)?.size ?? 0) + this.any.size;
    let count = this.any.size;
    for (const subscriptions of this.byName.values()) count += subscriptions.size;
    return count;
  }

  private add(name: FleetEventName, subscription: Subscription): Unsubscribe {
    let subscriptions = this.byName.get(name);
    if (subscriptions === undefined) {
      subscriptions = new Set();
      this.byName.set(name, subscriptions);
    }
    subscriptions.add(subscription);
    return () => this.remove(name, subscription);
  }

  private remove(name: FleetEventName, subscription: Subscription): void {
    const subscriptions = this.byName.get(name);
    if (subscriptions === undefined) return;
    subscriptions.delete(subscription);
    // Drop empty sets so churn over many names leaves nothing behind.
    if (subscriptions.size === 0) this.byName.delete(name);
  }

  private invoke(subscription: Subscription, args: FleetEventArgs): void {
    const name = args[0];
    try {
      const result: unknown = subscription.call(...args);
      // An async listener's rejection would otherwise be an unhandledRejection, which shuts the fleet down.
      if (isThenable(result)) Promise.resolve(result).catch((error: unknown) => this.report(error, name));
    } catch (error) {
      this.report(error, name);
    }
  }

  /** The error callback is the host's code too; if it throws, the emitter must still not. */
  private report(error: unknown, name: FleetEventName): void {
    try {
      this.options.onListenerError(error, name);
    } catch {
      // Nowhere left to report to without throwing into the emitter.
    }
  }
}
