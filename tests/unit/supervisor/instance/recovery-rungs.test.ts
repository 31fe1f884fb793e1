import { describe, expect, it, vi } from 'vitest';
import { ConnectionStatus, Health } from '../../../../src/domain/instance.js';
import { AppError, WorkerNotRunningError } from '../../../../src/errors/index.js';
import type { Journal, JournalEntry } from '../../../../src/supervisor/journal.js';
import { cleanup, hardRestart, softRestart, type RungTarget } from '../../../../src/supervisor/instance/recovery-rungs.js';
import { StatusCore } from '../../../../src/supervisor/instance/status.js';
import { WorkerSlot } from '../../../../src/supervisor/instance/worker-slot.js';
import type { WorkerClient, WorkerExit } from '../../../../src/worker/handle.js';
import { silentLogger } from '../../../support/logger.js';

const T0 = new Date('2026-01-15T10:00:00.000Z');
const STOP_TIMEOUT = 7_000;

function fakeWorker(calls: string[]) {
  let exit!: (e: WorkerExit) => void;
  const exited = new Promise<WorkerExit>((r) => (exit = r));
  const kill = vi.fn(() => {
    calls.push('kill');
    exit({ code: null, signal: 'SIGKILL' });
  });
  const stop = vi.fn(async () => {
    calls.push('stop');
    exit({ code: 0, signal: null });
    return exited;
  });
  const restart = vi.fn(async () => void calls.push('restart'));
  const client = { pid: 1234, browserPid: null, alive: true, exited, kill, stop, restart } as unknown as WorkerClient;
  return { client, kill, stop, restart };
}

/** A target over a real StatusCore (fake journal) and a real WorkerSlot; `calls` records every step in order. */
async function target(status: ConnectionStatus = ConnectionStatus.CONNECTED, withWorker = true) {
  const calls: string[] = [];
  const entries: JournalEntry[] = [];
  const journal = {
    record: async (entry: JournalEntry) => {
      entries.push(entry);
      calls.push(entry.change?.kind === 'status' ? `move:${entry.change.to}:${entry.change.reason}` : `record:${entry.event?.type}`);
      return 'written';
    },
    track: () => {},
  } as unknown as Journal;
  const core = new StatusCore('inst-1', { connectionStatus: status, statusReason: null, statusChangedAt: T0, health: Health.HEALTHY, healthReason: null }, journal, silentLogger);
  const slot = new WorkerSlot();
  const worker = fakeWorker(calls);
  if (withWorker) await slot.begin(async (g) => void slot.install(worker.client, g));
  const t: RungTarget = {
    id: 'inst-1',
    slot,
    core,
    stopTimeoutMs: STOP_TIMEOUT,
    clearTimers: vi.fn(() => void calls.push('clearTimers')),
    quiesce: vi.fn(() => void calls.push('quiesce')),
    start: vi.fn(async (trigger: string) => void calls.push(`start:${trigger}`)),
    forgetPhone: vi.fn(() => void calls.push('forgetPhone')),
  };
  return { t, core, slot, worker, calls, entries };
}

describe('softRestart', () => {
  it('throws WORKER_NOT_RUNNING without a worker, and records nothing', async () => {
    const { t, calls, entries } = await target(ConnectionStatus.DISCONNECTED, false);
    const err = await softRestart(t, 'stuck', 5_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerNotRunningError);
    expect((err as AppError).code).toBe('WORKER_NOT_RUNNING');
    expect((err as AppError).status).toBe(409);
    expect(entries).toHaveLength(0);
    expect(calls).toEqual([]);
  });

  it('clears the timers, moves RECONNECTING then INITIALIZING, then asks the worker to restart(stopTimeout, timeout)', async () => {
    const { t, core, worker, calls, entries } = await target(ConnectionStatus.CONNECTED);
    await softRestart(t, 'zombie', 30_000);
    expect(calls).toEqual(['clearTimers', 'move:RECONNECTING:zombie', 'move:INITIALIZING:zombie', 'restart']);
    expect(worker.restart).toHaveBeenCalledWith(STOP_TIMEOUT, 30_000);
    expect(worker.kill).not.toHaveBeenCalled();
    expect(worker.stop).not.toHaveBeenCalled();
    expect(core.status).toBe(ConnectionStatus.INITIALIZING);
    expect(entries.map((e) => e.event?.category)).toEqual(['HEALTH', 'HEALTH']);
    expect(t.start).not.toHaveBeenCalled();
  });

  it('passes on a failed restart', async () => {
    const { t, worker } = await target(ConnectionStatus.CONNECTED);
    worker.restart.mockRejectedValueOnce(new Error('restart timed out'));
    await expect(softRestart(t, 'zombie', 10)).rejects.toThrow('restart timed out');
  });
});

describe('hardRestart', () => {
  it('quiesces, kills (no stop), reaps, moves RECONNECTING and starts a new worker', async () => {
    const { t, slot, worker, calls, core } = await target(ConnectionStatus.LOADING);
    const reap = vi.fn(async () => void calls.push('reap'));
    await hardRestart(t, 'stuck_in_LOADING', reap);
    expect(calls).toEqual(['quiesce', 'kill', 'reap', 'move:RECONNECTING:stuck_in_LOADING', 'start:stuck_in_LOADING']);
    expect(worker.stop).not.toHaveBeenCalled();
    expect(slot.current).toBeNull();
    expect(core.status).toBe(ConnectionStatus.RECONNECTING);
  });

  it('starts nothing (and moves nothing) if the generation moved meanwhile (a stop during the reap)', async () => {
    const { t, slot, calls, entries } = await target(ConnectionStatus.LOADING);
    const reap = vi.fn(async () => {
      calls.push('reap');
      slot.bump(); // a shutdown's stop took over
    });
    await hardRestart(t, 'stuck', reap);
    expect(t.start).not.toHaveBeenCalled();
    expect(entries).toHaveLength(0);
    expect(calls).toEqual(['quiesce', 'kill', 'reap']);
  });
});

describe('cleanup', () => {
  it('kills, reaps, wipes, forgets the phone, sets health corrupted (HIGH), moves STOPPED "cleanup" with the patch, then starts', async () => {
    const { t, core, worker, calls, entries } = await target(ConnectionStatus.LOADING);
    const reap = vi.fn(async () => void calls.push('reap'));
    const wipe = vi.fn(async () => void calls.push('wipe'));
    await cleanup(t, 'session_corrupted', reap, wipe);

    expect(calls).toEqual(['quiesce', 'kill', 'reap', 'wipe', 'forgetPhone', 'record:health.changed', 'move:DISCONNECTED:cleanup', 'start:cleanup']);
    expect(worker.stop).not.toHaveBeenCalled();
    expect(core.health).toBe(Health.CORRUPTED);
    expect(core.healthReason).toBe('session_corrupted');
    expect(core.status).toBe(ConnectionStatus.DISCONNECTED);
    expect(core.reason).toBe('cleanup');

    const [health, stopped] = entries;
    expect(health!.change).toEqual({ kind: 'health', health: Health.CORRUPTED, reason: 'session_corrupted' });
    expect(health!.event).toMatchObject({ type: 'health.changed', severity: 'HIGH', data: { from: Health.HEALTHY, to: Health.CORRUPTED } });
    expect(health!.notify?.[0]).toMatchObject({ name: 'instance.health', severity: 'HIGH' });

    expect(stopped!.change).toEqual({
      kind: 'status',
      to: ConnectionStatus.DISCONNECTED,
      reason: 'cleanup',
      patch: { wid: null, pushName: null, reconnectAttempts: 0 },
    });
    expect(stopped!.event).toEqual({ category: 'HEALTH', type: 'status.stopped', severity: 'HIGH', data: { cause: 'session_corrupted' } });
  });

  it('wipes nothing and starts nothing if the generation moved during the reap', async () => {
    const { t, slot, entries } = await target(ConnectionStatus.LOADING);
    const wipe = vi.fn();
    await cleanup(t, 'x', async () => void slot.bump(), wipe);
    expect(wipe).not.toHaveBeenCalled();
    expect(t.forgetPhone).not.toHaveBeenCalled();
    expect(t.start).not.toHaveBeenCalled();
    expect(entries).toHaveLength(0);
  });

  it('does not start if the generation moved during the wipe', async () => {
    const { t, slot } = await target(ConnectionStatus.LOADING);
    await cleanup(t, 'x', async () => undefined, () => void slot.bump());
    expect(t.start).not.toHaveBeenCalled();
  });
});
