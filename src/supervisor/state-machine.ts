import { CONNECTION_STATUSES, ConnectionStatus } from '../domain/instance.js';

/** What can move an instance's `connection_status`; the supervisor maps worker events onto these. */
export const LifecycleEvent = {
  /** A worker is being started (enable, rehydration, a reconnect firing, a QR asked for after an idle stop). */
  START: 'start',
  /** whatsapp-web.js `loading_screen`: WhatsApp Web is loading the session. */
  LOADING: 'loading',
  /** whatsapp-web.js `qr`: a QR code was emitted (the first one or a rotation). */
  QR: 'qr',
  /** whatsapp-web.js `authenticated`: credentials accepted, chats still syncing. */
  AUTHENTICATED: 'authenticated',
  /** whatsapp-web.js `ready`: the client can send and receive. */
  READY: 'ready',
  /** A disconnect or a crash: `disconnected`, worker exit, browser disconnected, page closed. */
  DISCONNECTED: 'disconnected',
  /** whatsapp-web.js `auth_failure`: the saved session was refused. */
  AUTH_FAILURE: 'auth_failure',
  /** A reconnect or a boot rehydration is pending. */
  RECONNECT_SCHEDULED: 'reconnect_scheduled',
  /** The supervisor stopped the worker on purpose (disable, shutdown). */
  STOPPED: 'stopped',
} as const;
export type LifecycleEvent = (typeof LifecycleEvent)[keyof typeof LifecycleEvent];
export const LIFECYCLE_EVENTS = Object.values(LifecycleEvent) as LifecycleEvent[];

/** Statuses an instance should only pass through; one held too long is `stuck`. */
export const TRANSITIONAL_STATUSES: readonly ConnectionStatus[] = Object.freeze([
  ConnectionStatus.INITIALIZING,
  ConnectionStatus.LOADING,
  ConnectionStatus.RECONNECTING,
]);

export interface Transition {
  readonly to: ConnectionStatus;
  /** Statuses the event is legal from; from `to` itself it is a no-op (`changed: false`). */
  readonly from: readonly ConnectionStatus[];
}

const { INITIALIZING, LOADING, QR_REQUIRED, CONNECTED, DISCONNECTED, RECONNECTING, AUTH_FAILURE } = ConnectionStatus;
/** Statuses in which a worker is running and may report on its client. */
const WORKER_RUNNING = [INITIALIZING, LOADING, QR_REQUIRED, CONNECTED];

function rule(to: ConnectionStatus, from: readonly ConnectionStatus[]): Transition {
  return Object.freeze({ to, from: Object.freeze([...from]) });
}

/**
 * The whole lifecycle. The rule behind it: events only a live client emits (LOADING, QR,
 * AUTHENTICATED, READY) are legal only while a worker runs, so a late event from a worker that
 * was already written off (DISCONNECTED, RECONNECTING, AUTH_FAILURE) cannot resurrect it; a
 * worker is started only when none runs, except in QR_REQUIRED, where an idle worker is stopped
 * without leaving the status; going down and scheduling a reconnect are legal from anywhere.
 */
export const LIFECYCLE_TRANSITIONS: { readonly [E in LifecycleEvent]: Transition } = Object.freeze({
  [LifecycleEvent.START]: rule(INITIALIZING, [DISCONNECTED, RECONNECTING, AUTH_FAILURE, QR_REQUIRED]),
  // From CONNECTED too: a page navigation makes whatsapp-web.js inject again and re-emit
  // `authenticated` and `loading_screen`; the status follows until `ready` comes back.
  [LifecycleEvent.LOADING]: rule(LOADING, WORKER_RUNNING),
  [LifecycleEvent.AUTHENTICATED]: rule(LOADING, WORKER_RUNNING),
  // Not from CONNECTED: losing the session is reported as a disconnect (LOGOUT) first.
  [LifecycleEvent.QR]: rule(QR_REQUIRED, [INITIALIZING, LOADING, QR_REQUIRED]),
  [LifecycleEvent.READY]: rule(CONNECTED, WORKER_RUNNING),
  // Only while the client is still logging in; a session lost later arrives as a disconnect.
  [LifecycleEvent.AUTH_FAILURE]: rule(AUTH_FAILURE, [INITIALIZING, LOADING, QR_REQUIRED, AUTH_FAILURE]),
  [LifecycleEvent.DISCONNECTED]: rule(DISCONNECTED, CONNECTION_STATUSES),
  [LifecycleEvent.STOPPED]: rule(DISCONNECTED, CONNECTION_STATUSES),
  // Rehydration moves whatever the row says to RECONNECTING, so every status is a legal source.
  [LifecycleEvent.RECONNECT_SCHEDULED]: rule(RECONNECTING, CONNECTION_STATUSES),
});

export type TransitionResult =
  | { ok: true; to: ConnectionStatus; changed: boolean }
  | { ok: false; reason: string };

/** Where `event` takes an instance in status `from`; illegal pairs are reported, never applied. */
export function nextStatus(from: ConnectionStatus, event: LifecycleEvent): TransitionResult {
  const transition = LIFECYCLE_TRANSITIONS[event];
  if (!transition.from.includes(from)) {
    return {
      ok: false,
      reason: `illegal transition: '${event}' in ${from} (legal from ${transition.from.join(', ')})`,
    };
  }
  return { ok: true, to: transition.to, changed: transition.to !== from };
}
