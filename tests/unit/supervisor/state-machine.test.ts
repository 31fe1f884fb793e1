import { describe, expect, it } from 'vitest';
import { CONNECTION_STATUSES, ConnectionStatus } from '../../../src/domain/instance.js';
import {
  LIFECYCLE_EVENTS,
  LIFECYCLE_TRANSITIONS,
  LifecycleEvent,
  TRANSITIONAL_STATUSES,
  nextStatus,
} from '../../../src/supervisor/state-machine.js';

const { INITIALIZING: INIT, LOADING: LOAD, QR_REQUIRED: QR, CONNECTED: CONN, DISCONNECTED: DISC, RECONNECTING: RECO, AUTH_FAILURE: AUTH } =
  ConnectionStatus;
/** Illegal pair. */
const NO = null;

// The whole matrix, written out independently of the module's table: rows are the current
// status, columns the event; a cell is the resulting status or NO.
const COLUMNS = ['start', 'loading', 'qr', 'authenticated', 'ready', 'disconnected', 'auth_failure', 'reconnect_scheduled', 'stopped'] as const;
const EXPECTED: Record<ConnectionStatus, readonly (ConnectionStatus | null)[]> = {
  //              start  loading qr    authent ready  disconn auth_f reconn stopped
  INITIALIZING: [NO,    LOAD,   QR,   LOAD,   CONN,  DISC,   AUTH,  RECO,  DISC],
  LOADING:      [NO,    LOAD,   QR,   LOAD,   CONN,  DISC,   AUTH,  RECO,  DISC],
  QR_REQUIRED:  [INIT,  LOAD,   QR,   LOAD,   CONN,  DISC,   AUTH,  RECO,  DISC],
  CONNECTED:    [NO,    LOAD,   NO,   LOAD,   CONN,  DISC,   NO,    RECO,  DISC],
  DISCONNECTED: [INIT,  NO,     NO,   NO,     NO,    DISC,   NO,    RECO,  DISC],
  RECONNECTING: [INIT,  NO,     NO,   NO,     NO,    DISC,   NO,    RECO,  DISC],
  AUTH_FAILURE: [INIT,  NO,     NO,   NO,     NO,    DISC,   AUTH,  RECO,  DISC],
};

const cases = CONNECTION_STATUSES.flatMap((from) =>
  COLUMNS.map((event, column) => ({ from, event: event as LifecycleEvent, to: EXPECTED[from][column] ?? null })),
);

describe('nextStatus', () => {
  it('the expected matrix covers every status and every event', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...CONNECTION_STATUSES].sort());
    expect([...COLUMNS].sort()).toEqual([...LIFECYCLE_EVENTS].sort());
    expect(cases).toHaveLength(7 * 9);
  });

  it.each(cases.filter((c) => c.to !== null))('$from --$event--> $to', ({ from, event, to }) => {
    expect(nextStatus(from, event)).toEqual({ ok: true, to, changed: to !== from });
  });

  it.each(cases.filter((c) => c.to === null))('rejects $event in $from', ({ from, event }) => {
    const result = nextStatus(from, event);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(`'${event}' in ${from}`);
  });

  it('reports repeats (QR rotation, a second ready, a second disconnect) as unchanged', () => {
    expect(nextStatus(QR, LifecycleEvent.QR)).toEqual({ ok: true, to: QR, changed: false });
    expect(nextStatus(CONN, LifecycleEvent.READY)).toEqual({ ok: true, to: CONN, changed: false });
    expect(nextStatus(DISC, LifecycleEvent.STOPPED)).toEqual({ ok: true, to: DISC, changed: false });
    expect(nextStatus(RECO, LifecycleEvent.RECONNECT_SCHEDULED)).toEqual({ ok: true, to: RECO, changed: false });
  });

  it('names the legal sources in the rejection so the log line explains itself', () => {
    expect(nextStatus(CONN, LifecycleEvent.START)).toEqual({
      ok: false,
      reason: "illegal transition: 'start' in CONNECTED (legal from DISCONNECTED, RECONNECTING, AUTH_FAILURE, QR_REQUIRED)",
    });
  });
});

describe('LIFECYCLE_TRANSITIONS', () => {
  it('is frozen so no caller can loosen the lifecycle at run time', () => {
    expect(Object.isFrozen(LIFECYCLE_TRANSITIONS)).toBe(true);
    for (const transition of Object.values(LIFECYCLE_TRANSITIONS)) {
      expect(Object.isFrozen(transition)).toBe(true);
      expect(Object.isFrozen(transition.from)).toBe(true);
    }
  });
});

describe('TRANSITIONAL_STATUSES', () => {
  it('lists the statuses an instance should only pass through', () => {
    expect([...TRANSITIONAL_STATUSES].sort()).toEqual([INIT, LOAD, RECO].sort());
  });
});
