import { describe, expect, it, vi } from 'vitest';
import { ConnectionStatus, Health, type Instance } from '../../../../src/domain/instance.js';
import type { Journal, JournalEntry } from '../../../../src/supervisor/journal.js';
import type { Notice } from '../../../../src/supervisor/notice.js';
import { StatusCore } from '../../../../src/supervisor/instance/status.js';
import { LifecycleEvent } from '../../../../src/supervisor/state-machine.js';
import { silentLogger } from '../../../support/logger.js';

const T0 = new Date('2026-01-15T10:00:00.000Z');
const T1 = new Date('2026-01-15T10:05:00.000Z');

type Row = Pick<Instance, 'connectionStatus' | 'statusReason' | 'statusChangedAt' | 'health' | 'healthReason'>;

function fakeJournal() {
  const entries: JournalEntry[] = [];
  const tracked: Array<[string, ConnectionStatus]> = [];
  const journal = {
    record: async (entry: JournalEntry) => {
      entries.push(entry);
      return 'written';
    },
    track: (id: string, status: ConnectionStatus) => void tracked.push([id, status]),
  } as unknown as Journal;
  return { journal, entries, tracked };
}

function core(row: Partial<Row> = {}, now: () => Date = () => T1) {
  const j = fakeJournal();
  const c = new StatusCore(
    'sales-01',
    {
      connectionStatus: ConnectionStatus.DISCONNECTED,
      statusReason: 'stopped',
      statusChangedAt: T0,
      health: Health.DISCONNECTED,
      healthReason: null,
      ...row,
    },
    j.journal,
    silentLogger,
    now,
  );
  return { core: c, ...j };
}

describe('StatusCore', () => {
  it('starts from the row and tells the journal what the database holds', () => {
    const { core: c, tracked } = core({ connectionStatus: ConnectionStatus.RECONNECTING, statusReason: 'rehydrate', healthReason: 'x' });
    expect(c.status).toBe(ConnectionStatus.RECONNECTING);
    expect(c.reason).toBe('rehydrate');
    expect(c.statusChangedAt).toEqual(T0);
    expect(c.health).toBe(Health.DISCONNECTED);
    expect(c.healthReason).toBe('x');
    expect(tracked).toEqual([['sales-01', ConnectionStatus.RECONNECTING]]);
  });

  describe('move', () => {
    it('a legal move records ONE entry: a status change, a status.<event> event and a connection.update notice', async () => {
      const { core: c, entries } = core();
      expect(await c.move(LifecycleEvent.START, 'enabled')).toBe(true);
      expect(c.status).toBe(ConnectionStatus.INITIALIZING);
      expect(c.reason).toBe('enabled');
      expect(c.statusChangedAt).toEqual(T1);
      expect(entries).toHaveLength(1);
      const [entry] = entries;
      expect(entry).toEqual({
        instanceId: 'sales-01',
        change: { kind: 'status', to: ConnectionStatus.INITIALIZING, reason: 'enabled' },
        event: { category: 'SESSION', type: 'status.start', severity: null, data: null },
        notify: [
          {
            name: 'connection.update',
            payload: { instanceId: 'sales-01', status: ConnectionStatus.INITIALIZING, previous: ConnectionStatus.DISCONNECTED, reason: 'enabled', at: T1 },
          },
        ],
      });
    });

    it('carries the patch, data, severity and category into the entry', async () => {
      const { core: c, entries } = core({ connectionStatus: ConnectionStatus.LOADING });
      const patch = { reconnectAttempts: 0, wid: '123@c.us' };
      await c.move(LifecycleEvent.READY, null, { patch, data: { a: 1 }, severity: 'LOW', category: 'RECONNECT' });
      expect(entries).toHaveLength(1);
      expect(entries[0]!.change).toEqual({ kind: 'status', to: ConnectionStatus.CONNECTED, reason: null, patch });
      expect(entries[0]!.event).toEqual({ category: 'RECONNECT', type: 'status.ready', severity: 'LOW', data: { a: 1 } });
    });

    it('an illegal move is refused (false), changes nothing and records nothing', async () => {
      const { core: c, entries } = core({ connectionStatus: ConnectionStatus.CONNECTED, statusReason: null });
      // QR is not legal from CONNECTED
      expect(await c.move(LifecycleEvent.QR, 'qr_required')).toBe(false);
      // READY is not legal from DISCONNECTED either: check one more pair
      const other = core();
      expect(await other.core.move(LifecycleEvent.READY, null)).toBe(false);
      expect(c.status).toBe(ConnectionStatus.CONNECTED);
      expect(c.reason).toBeNull();
      expect(c.statusChangedAt).toEqual(T0);
      expect(entries).toHaveLength(0);
      expect(other.entries).toHaveLength(0);
      expect(other.core.status).toBe(ConnectionStatus.DISCONNECTED);
    });

    it('the same status with the same reason and no patch records nothing (but is no refusal)', async () => {
      const { core: c, entries } = core({ connectionStatus: ConnectionStatus.RECONNECTING, statusReason: 'worker_exit' });
      expect(await c.move(LifecycleEvent.RECONNECT_SCHEDULED, 'worker_exit')).toBe(true);
      expect(entries).toHaveLength(0);
      expect(c.statusChangedAt).toEqual(T0);
    });

    it('the same status and reason with a patch is recorded, without connection.update', async () => {
      const { core: c, entries } = core({ connectionStatus: ConnectionStatus.RECONNECTING, statusReason: 'worker_exit' });
      await c.move(LifecycleEvent.RECONNECT_SCHEDULED, 'worker_exit', { patch: { reconnectAttempts: 3 } });
      expect(entries).toHaveLength(1);
      expect(entries[0]!.change).toEqual({ kind: 'status', to: ConnectionStatus.RECONNECTING, reason: 'worker_exit', patch: { reconnectAttempts: 3 } });
      expect(entries[0]!.notify).toEqual([]);
    });

    it('a reason change without a status change records an entry without connection.update, and keeps statusChangedAt', async () => {
      const { core: c, entries } = core({ connectionStatus: ConnectionStatus.RECONNECTING, statusReason: 'worker_exit' });
      expect(await c.move(LifecycleEvent.RECONNECT_SCHEDULED, 'page_closed')).toBe(true);
      expect(c.reason).toBe('page_closed');
      expect(c.statusChangedAt).toEqual(T0);
      expect(entries).toHaveLength(1);
      expect(entries[0]!.change).toEqual({ kind: 'status', to: ConnectionStatus.RECONNECTING, reason: 'page_closed' });
      expect(entries[0]!.event?.type).toBe('status.reconnect_scheduled');
      expect(entries[0]!.notify?.map((n) => n.name) ?? []).not.toContain('connection.update');
    });

    it('extra notices are appended after connection.update', async () => {
      const { core: c, entries } = core({ connectionStatus: ConnectionStatus.INITIALIZING });
      const qr: Notice = { name: 'qrcode.updated', payload: { instanceId: 'sales-01', qr: 'QR-1', at: T1 } };
      const down: Notice = { name: 'no.connection', payload: { instanceId: 'sales-01', reason: 'x', at: T1 } };
      await c.move(LifecycleEvent.QR, 'qr_required', { notify: [qr, down] });
      expect(entries).toHaveLength(1);
      expect(entries[0]!.notify?.map((n) => n.name)).toEqual(['connection.update', 'qrcode.updated', 'no.connection']);
      expect(entries[0]!.notify?.[1]).toBe(qr);
      expect(entries[0]!.notify?.[2]).toBe(down);
    });

    it('extra notices go out on their own when the status does not change', async () => {
      const { core: c, entries } = core({ connectionStatus: ConnectionStatus.DISCONNECTED, statusReason: 'a' });
      const down: Notice = { name: 'no.connection', payload: { instanceId: 'sales-01', reason: 'b', at: T1 } };
      await c.move(LifecycleEvent.DISCONNECTED, 'b', { notify: [down] });
      expect(entries[0]!.notify).toEqual([down]);
    });

    it('moves in a row chain their previous statuses', async () => {
      const { core: c, entries } = core();
      await c.move(LifecycleEvent.START, 'enabled');
      await c.move(LifecycleEvent.LOADING, 'loading');
      await c.move(LifecycleEvent.READY, null);
      const updates = entries.map((e) => e.notify?.[0]?.payload as { previous: string; status: string });
      expect(updates.map((u) => [u.previous, u.status])).toEqual([
        [ConnectionStatus.DISCONNECTED, ConnectionStatus.INITIALIZING],
        [ConnectionStatus.INITIALIZING, ConnectionStatus.LOADING],
        [ConnectionStatus.LOADING, ConnectionStatus.CONNECTED],
      ]);
    });
  });

  describe('setHealth', () => {
    it('a new health records health.changed with from/to and an instance.health notice', async () => {
      const { core: c, entries } = core();
      await c.setHealth(Health.HEALTHY, 'all checks pass');
      expect(c.health).toBe(Health.HEALTHY);
      expect(c.healthReason).toBe('all checks pass');
      expect(entries).toEqual([
        {
          instanceId: 'sales-01',
          change: { kind: 'health', health: Health.HEALTHY, reason: 'all checks pass' },
          event: { category: 'HEALTH', type: 'health.changed', reason: 'all checks pass', severity: null, data: { from: Health.DISCONNECTED, to: Health.HEALTHY } },
          notify: [{ name: 'instance.health', payload: { instanceId: 'sales-01', health: Health.HEALTHY, reason: 'all checks pass', at: T1 } }],
        },
      ]);
    });

    it('keeps a severity override on the event and the notice', async () => {
      const { core: c, entries } = core();
      await c.setHealth(Health.CORRUPTED, 'cleanup', 'HIGH');
      expect(entries).toHaveLength(1);
      expect(entries[0]!.event?.severity).toBe('HIGH');
      expect(entries[0]!.notify?.[0]).toMatchObject({ name: 'instance.health', severity: 'HIGH' });
    });

    it('the same health with a new reason records nothing but updates healthReason', async () => {
      const { core: c, entries } = core({ health: Health.STUCK, healthReason: 'stuck_in_LOADING_30s' });
      await c.setHealth(Health.STUCK, 'stuck_in_LOADING_45s');
      expect(entries).toHaveLength(0);
      expect(c.health).toBe(Health.STUCK);
      expect(c.healthReason).toBe('stuck_in_LOADING_45s');
    });

    it('does not touch the status', async () => {
      const now = vi.fn(() => T1);
      const { core: c } = core({}, now);
      await c.setHealth(Health.ZOMBIE, 'no answer');
      expect(c.status).toBe(ConnectionStatus.DISCONNECTED);
      expect(c.statusChangedAt).toEqual(T0);
    });
  });
});
