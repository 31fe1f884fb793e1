import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionStatus, type Instance } from '../../../../src/domain/instance.js';
import type { Journal, JournalEntry } from '../../../../src/supervisor/journal.js';
import { InstanceHandle, type InstanceDeps, type InstanceSettings, type WorkerLauncher } from '../../../../src/supervisor/instance/handle.js';
import type { WorkerClient, WorkerExit, WorkerListener } from '../../../../src/worker/handle.js';
import { instanceRow, ROW_T0 } from '../../../support/instance-row.js';
import { silentLogger } from '../../../support/logger.js';

const T0 = ROW_T0;
const SETTINGS: InstanceSettings = {
  workerStopTimeoutMs: 5_000,
  qrIdleTimeoutMs: 60_000,
  reconnect: { baseMs: 1_000, maxMs: 30_000, jitterMs: 0, maxAttempts: 3, firstDelayMs: 0 },
};

/** Lets pending promise callbacks run (microtasks only: fake timers do not fire). */
async function flush(rounds = 50): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

interface FakeWorker {
  client: WorkerClient;
  stop: ReturnType<typeof vi.fn>;
  kill: ReturnType<typeof vi.fn>;
  exit: (e?: WorkerExit) => void;
}

function fakeWorker(): FakeWorker {
  let exit!: (e: WorkerExit) => void;
  const exited = new Promise<WorkerExit>((r) => (exit = r));
  const stop = vi.fn(async () => {
    exit({ code: 0, signal: null });
    return exited;
  });
  const kill = vi.fn(() => exit({ code: null, signal: 'SIGKILL' }));
  const client = { pid: 4321, browserPid: 8765, alive: true, exited, stop, kill, restart: vi.fn(async () => undefined) } as unknown as WorkerClient;
  return { client, stop, kill, exit: (e = { code: 1, signal: null }) => exit(e) };
}

const row = (overrides: Partial<Instance> = {}): Instance => instanceRow(overrides);

type Listener = Required<WorkerListener>;

/**
 * A handle over a fake journal and a fake launcher. Each launch hands out a new fake worker (or
 * throws the next queued error) and keeps the listener it was given, so the test can speak as
 * that worker.
 */
function harness(overrides: Partial<Instance> = {}, deps: Partial<InstanceDeps> = {}) {
  const entries: JournalEntry[] = [];
  const journal = {
    record: async (entry: JournalEntry) => {
      entries.push(entry);
      return 'written';
    },
    track: () => {},
  } as unknown as Journal;
  const listeners: Listener[] = [];
  const workers: FakeWorker[] = [];
  const failures: Error[] = [];
  const launch = vi.fn<WorkerLauncher>(async (_id, listener) => {
    listeners.push(listener);
    const failure = failures.shift();
    if (failure) throw failure;
    const w = fakeWorker();
    workers.push(w);
    return w.client;
  });
  const handle = new InstanceHandle('sales-01', row(overrides), { journal, log: silentLogger, launch, settings: SETTINGS, random: () => 0, ...deps });
  const last = () => listeners[listeners.length - 1]!;
  return {
    handle,
    journal,
    entries,
    launch,
    listeners,
    workers,
    failNextLaunch: (e: Error) => failures.push(e),
    /** The latest worker speaks. */
    emit: (event: string, payload: unknown) => last().onEvent(event as never, payload),
    statusEntries: () => entries.filter((e) => e.change?.kind === 'status'),
    types: () => entries.map((e) => e.event?.type),
  };
}

async function started(overrides: Partial<Instance> = {}, deps: Partial<InstanceDeps> = {}) {
  const h = harness(overrides, deps);
  await h.handle.start('enabled');
  await flush();
  return h;
}

describe('InstanceHandle', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('start moves to INITIALIZING and installs the launched worker', async () => {
    const h = await started();
    expect(h.launch).toHaveBeenCalledTimes(1);
    expect(h.launch.mock.calls[0]![0]).toBe('sales-01');
    expect(h.handle.live.status).toBe(ConnectionStatus.INITIALIZING);
    expect(h.handle.live.workerPid).toBe(4321);
    expect(h.handle.live.browserPid).toBe(8765);
    expect(h.handle.currentWorker).toBe(h.workers[0]!.client);
    expect(h.statusEntries().map((e) => e.change)).toEqual([{ kind: 'status', to: ConnectionStatus.INITIALIZING, reason: 'enabled' }]);
    // a second start while one runs does nothing
    await h.handle.start('again');
    expect(h.launch).toHaveBeenCalledTimes(1);
  });

  describe('QR', () => {
    it('the first QR moves to QR_REQUIRED with a qrcode.updated notice', async () => {
      const h = await started();
      h.emit('qr', { qr: 'QR-1' });
      await flush();
      expect(h.handle.live.status).toBe(ConnectionStatus.QR_REQUIRED);
      expect(h.handle.live.qr).toEqual({ value: 'QR-1', at: T0 });
      const entry = h.entries.at(-1)!;
      expect(entry.change).toEqual({ kind: 'status', to: ConnectionStatus.QR_REQUIRED, reason: 'qr_required' });
      expect(entry.event?.type).toBe('status.qr');
      expect(entry.notify?.map((n) => n.name)).toEqual(['connection.update', 'qrcode.updated']);
      expect(entry.notify?.[1]).toEqual({ name: 'qrcode.updated', payload: { instanceId: 'sales-01', qr: 'QR-1', at: T0 } });
    });

    it('a QR that arrives before the launch has returned is followed all the same', async () => {
      const h = harness();
      h.launch.mockImplementationOnce(async (_id, listener) => {
        listener.onEvent('qr' as never, { qr: 'EARLY' });
        const w = fakeWorker();
        h.workers.push(w);
        return w.client;
      });
      await h.handle.start('enabled');
      await flush();
      expect(h.handle.live.status).toBe(ConnectionStatus.QR_REQUIRED);
      expect(h.handle.live.qr?.value).toBe('EARLY');
    });

    it('a second QR records a qr.rotated entry that coalesces on "qr", without a status change', async () => {
      const h = await started();
      h.emit('qr', { qr: 'QR-1' });
      await flush();
      vi.setSystemTime(new Date(T0.getTime() + 20_000));
      h.emit('qr', { qr: 'QR-2' });
      await flush();
      const at = new Date(T0.getTime() + 20_000);
      expect(h.entries.at(-1)).toEqual({
        instanceId: 'sales-01',
        event: { category: 'SESSION', type: 'qr.rotated' },
        notify: [{ name: 'qrcode.updated', payload: { instanceId: 'sales-01', qr: 'QR-2', at } }],
        coalesce: 'qr',
      });
      expect(h.statusEntries()).toHaveLength(2); // INITIALIZING, QR_REQUIRED
      expect(h.handle.live.qr).toEqual({ value: 'QR-2', at });
    });

    it('a QR wait longer than qrIdleTimeoutMs stops the worker and keeps QR_REQUIRED (reason qr_timeout); rotations do not extend it', async () => {
      const h = await started();
      h.emit('qr', { qr: 'QR-1' });
      await flush();
      await vi.advanceTimersByTimeAsync(40_000);
      h.emit('qr', { qr: 'QR-2' });
      await flush();
      await vi.advanceTimersByTimeAsync(19_999);
      expect(h.workers[0]!.stop).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(1);
      await flush();
      expect(h.workers[0]!.stop).toHaveBeenCalledWith(SETTINGS.workerStopTimeoutMs);
      expect(h.handle.hasWorker).toBe(false);
      expect(h.handle.live.status).toBe(ConnectionStatus.QR_REQUIRED);
      expect(h.handle.live.reason).toBe('qr_timeout');
      // the stop is on purpose: its exit schedules no reconnect
      expect(h.handle.live.nextReconnectAt).toBeNull();

      // a start (what the fleet does when the QR is asked for) brings a worker back
      await h.handle.start('qr_requested');
      await flush();
      expect(h.launch).toHaveBeenCalledTimes(2);
      expect(h.handle.live.status).toBe(ConnectionStatus.INITIALIZING);
    });
  });

  it('READY moves to CONNECTED with wid, pushName, lastConnectedAt and reconnectAttempts 0', async () => {
    const h = await started({ reconnectAttempts: 2, connectionStatus: ConnectionStatus.RECONNECTING, statusReason: 'worker_exit' });
    h.emit('qr', { qr: 'QR-1' });
    await flush();
    vi.setSystemTime(new Date(T0.getTime() + 5_000));
    h.emit('authenticated', null);
    await flush();
    h.emit('ready', { wid: '15551234567@c.us', pushname: 'Sales' });
    await flush();
    const at = new Date(T0.getTime() + 5_000);
    expect(h.handle.live.status).toBe(ConnectionStatus.CONNECTED);
    expect(h.handle.live.reason).toBeNull();
    const entry = h.entries.at(-1)!;
    expect(entry.change).toEqual({
      kind: 'status',
      to: ConnectionStatus.CONNECTED,
      reason: null,
      patch: { reconnectAttempts: 0, wid: '15551234567@c.us', pushName: 'Sales', lastConnectedAt: at },
    });
    expect(entry.event?.type).toBe('status.ready');
    expect(h.handle.live).toMatchObject({ wid: '15551234567@c.us', pushName: 'Sales', reconnectAttempts: 0, qr: null });
    // the QR idle limit ended with the wait
    await vi.advanceTimersByTimeAsync(120_000);
    expect(h.workers[0]!.stop).not.toHaveBeenCalled();
  });

  it('READY without wid/pushname keeps the known ones', async () => {
    const h = await started({ wid: 'old@c.us', pushName: 'Old' });
    h.emit('ready', { wid: null, pushname: null });
    await flush();
    expect(h.entries.at(-1)!.change).toMatchObject({ patch: { wid: 'old@c.us', pushName: 'Old' } });
  });

  it('a worker exit → DISCONNECTED (lastError patch) then RECONNECTING with a scheduled reconnect, which starts a new worker', async () => {
    const h = await started();
    h.emit('ready', { wid: 'w@c.us', pushname: 'P' });
    await flush();
    const before = h.statusEntries().length;
    h.workers[0]!.exit({ code: 1, signal: null });
    await flush();

    const [down, reconnecting] = h.statusEntries().slice(before);
    expect(down!.change).toEqual({ kind: 'status', to: ConnectionStatus.DISCONNECTED, reason: 'worker_exit', patch: { lastError: 'worker_exit (code=1)' } });
    expect(down!.event).toMatchObject({ type: 'status.disconnected', data: { code: 1, signal: null, detectedAt: T0.toISOString() } });
    expect(reconnecting!.change).toEqual({ kind: 'status', to: ConnectionStatus.RECONNECTING, reason: 'worker_exit', patch: { reconnectAttempts: 1 } });
    expect(reconnecting!.event).toMatchObject({ category: 'RECONNECT', type: 'status.reconnect_scheduled', data: { attempt: 1, delayMs: 1_000 } });
    expect(h.handle.live).toMatchObject({
      status: ConnectionStatus.RECONNECTING,
      lastError: 'worker_exit (code=1)',
      reconnectAttempts: 1,
      nextReconnectAt: new Date(T0.getTime() + 1_000),
      workerPid: null,
    });
    expect(h.handle.live.recentErrors).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(999);
    expect(h.launch).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    await flush();
    expect(h.launch).toHaveBeenCalledTimes(2);
    expect(h.handle.live.status).toBe(ConnectionStatus.INITIALIZING);
    expect(h.handle.live.reason).toBe('reconnect');
    expect(h.handle.live.nextReconnectAt).toBeNull();
  });

  it('each worker of a crash loop dies at once: reconnects fire at 1000, 1500, 2250 ms (BASE * 1.5^n), then it gives up', async () => {
    const h = await started();
    const launchedAt: number[] = [];
    h.launch.mockImplementation(async (_id, listener) => {
      h.listeners.push(listener);
      launchedAt.push(Date.now() - T0.getTime());
      const w = fakeWorker();
      h.workers.push(w);
      // The new worker dies right after its launch, the way a crash loop does.
      queueMicrotask(() => w.exit());
      return w.client;
    });
    h.workers[0]!.exit();
    await flush();
    await vi.advanceTimersByTimeAsync(60_000);
    await flush();
    // Attempt k starts after the delays of attempts 1..k (each new worker dies at once, 0 ms later).
    expect(launchedAt).toEqual([1_000, 2_500, 4_750]);
    expect(h.statusEntries().at(-1)!.change).toEqual({ kind: 'status', to: ConnectionStatus.DISCONNECTED, reason: 'max_attempts' });
    expect(h.handle.live.nextReconnectAt).toBeNull();
  });

  it('a crash after a steady connection (CONNECTED 10 s or more) reconnects at once; then a page that crashes on every start backs off per the formula from the second attempt', async () => {
    const h = await started();
    h.emit('ready', { wid: 'w@c.us', pushname: 'P' });
    await flush();
    await vi.advanceTimersByTimeAsync(10_000);
    const crashedAt = Date.now() - T0.getTime();
    const launchedAt: number[] = [];
    h.launch.mockImplementation(async (_id, listener) => {
      h.listeners.push(listener);
      launchedAt.push(Date.now() - T0.getTime() - crashedAt);
      const w = fakeWorker();
      h.workers.push(w);
      queueMicrotask(() => w.exit());
      return w.client;
    });
    h.workers[0]!.exit({ code: null, signal: 'SIGKILL' });
    await flush();
    expect(h.statusEntries().find((e) => e.change?.kind === 'status' && e.change.to === ConnectionStatus.RECONNECTING)!.event).toMatchObject({ data: { attempt: 1, delayMs: 0 } });
    await vi.advanceTimersByTimeAsync(60_000);
    await flush();
    // Attempt 1 at once; attempts 2 and 3 wait BASE * 1.5^1 and BASE * 1.5^2 (1500, 2250 ms) after the crash before them.
    expect(launchedAt).toEqual([0, 1_500, 3_750]);
    expect(h.statusEntries().at(-1)!.change).toEqual({ kind: 'status', to: ConnectionStatus.DISCONNECTED, reason: 'max_attempts' });
  });

  it('is marked as handling its crash from the worker exit until its reconnect is scheduled, so the recovery loop does not start it meanwhile', async () => {
    const h = await started();
    const seen: Array<[string, boolean]> = [];
    const record = h.journal.record.bind(h.journal);
    h.journal.record = async (entry: JournalEntry) => {
      if (entry.change?.kind === 'status') seen.push([entry.change.to, h.handle.live.handlingCrash]);
      return record(entry);
    };
    expect(h.handle.live.handlingCrash).toBe(false);
    h.workers[0]!.exit();
    await flush();
    expect(seen).toEqual([
      [ConnectionStatus.DISCONNECTED, true],
      [ConnectionStatus.RECONNECTING, true],
    ]);
    expect(h.handle.live.handlingCrash).toBe(false);
    expect(h.handle.live.nextReconnectAt).not.toBeNull();
  });

  it("CLUSTER=on, a worker that ends itself because the node's lease ran out is left to the self-fence: nothing announced or recorded, no reconnect", async () => {
    let ranOut = false;
    const h = await started({}, { leaseRanOut: () => ranOut });
    h.emit('ready', { wid: 'w@c.us', pushname: 'P' });
    await flush();
    await vi.advanceTimersByTimeAsync(10_000);
    const before = h.entries.length;
    ranOut = true;
    h.workers[0]!.exit({ code: 0, signal: null });
    await flush();
    await vi.advanceTimersByTimeAsync(60_000);
    // Announcements are the journal's entries (its bus tells the event stream what it records).
    expect(h.entries.slice(before)).toEqual([]);
    expect(h.launch).toHaveBeenCalledTimes(1);
    expect(h.handle.live.status).toBe(ConnectionStatus.CONNECTED);
  });

  it('a crash within 10 s of connecting waits the formula, so a page that dies soon after every connect is not restarted in a tight loop', async () => {
    const h = await started();
    h.emit('ready', { wid: 'w@c.us', pushname: 'P' });
    await flush();
    await vi.advanceTimersByTimeAsync(9_999);
    h.workers[0]!.exit();
    await flush();
    expect(h.statusEntries().find((e) => e.change?.kind === 'status' && e.change.to === ConnectionStatus.RECONNECTING)!.event).toMatchObject({ data: { attempt: 1, delayMs: 1_000 } });
  });

  it('crashes back to back grow the delay and give up at maxAttempts (reconnect.failed + no.connection)', async () => {
    const h = await started({ reconnectAttempts: 3 });
    h.workers[0]!.exit();
    await flush();
    const last = h.statusEntries().at(-1)!;
    expect(last.change).toEqual({ kind: 'status', to: ConnectionStatus.DISCONNECTED, reason: 'max_attempts' });
    expect(last.event).toMatchObject({ severity: 'HIGH', category: 'RECONNECT', data: { attempts: 3, lastReason: 'worker_exit' } });
    expect(last.notify?.map((n) => n.name)).toEqual(['reconnect.failed', 'no.connection']);
    expect(h.handle.live.nextReconnectAt).toBeNull();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(h.launch).toHaveBeenCalledTimes(1);
  });

  it('a LOGOUT disconnect sets blockedBy, announces logout.instance + no.connection, stops the worker and schedules no reconnect', async () => {
    const h = await started();
    h.emit('ready', { wid: 'w@c.us', pushname: 'P' });
    await flush();
    h.emit('disconnected', { reason: 'LOGOUT' });
    await flush();
    expect(h.workers[0]!.stop).toHaveBeenCalledWith(SETTINGS.workerStopTimeoutMs);
    const last = h.entries.at(-1)!;
    expect(last.change).toEqual({ kind: 'status', to: ConnectionStatus.DISCONNECTED, reason: 'LOGOUT', patch: { lastError: 'LOGOUT' } });
    expect(last.event).toMatchObject({ severity: 'HIGH', category: 'RECONNECT', type: 'status.disconnected' });
    expect(last.notify?.map((n) => n.name)).toEqual(['connection.update', 'logout.instance', 'no.connection']);
    expect(last.notify?.[1]!.payload).toEqual({ instanceId: 'sales-01', reason: 'LOGOUT', at: T0 });
    expect(h.handle.live).toMatchObject({ blockedBy: 'LOGOUT', lastError: 'LOGOUT', nextReconnectAt: null, status: ConnectionStatus.DISCONNECTED });
    // the stopped worker's exit is no crash
    expect(h.types().filter((t) => t === 'status.reconnect_scheduled')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(h.launch).toHaveBeenCalledTimes(1);
    // a human's start lifts the block
    await h.handle.start('enabled', true);
    expect(h.handle.live.blockedBy).toBeNull();
  });

  it('another no-reconnect reason (BANNED) announces no.connection without logout.instance', async () => {
    const h = await started();
    h.emit('ready', {});
    await flush();
    h.emit('disconnected', { reason: 'BANNED' });
    await flush();
    expect(h.entries.at(-1)!.notify?.map((n) => n.name)).toEqual(['connection.update', 'no.connection']);
    expect(h.handle.live.blockedBy).toBe('BANNED');
  });

  it('browser_disconnected on a running worker is a crash: worker stopped, DISCONNECTED then RECONNECTING', async () => {
    const h = await started();
    h.emit('ready', {});
    await flush();
    h.emit('browser_disconnected', null);
    await flush();
    expect(h.workers[0]!.stop).toHaveBeenCalled();
    expect(h.statusEntries().slice(-2).map((e) => e.change)).toEqual([
      { kind: 'status', to: ConnectionStatus.DISCONNECTED, reason: 'browser_disconnected', patch: { lastError: 'browser_disconnected' } },
      { kind: 'status', to: ConnectionStatus.RECONNECTING, reason: 'browser_disconnected', patch: { reconnectAttempts: 1 } },
    ]);
    // its exit that follows is not a second crash
    expect(h.types().filter((t) => t === 'status.disconnected')).toHaveLength(1);
  });

  it('an ERROR event is counted against the instance and changes nothing else', async () => {
    const h = await started();
    const count = h.entries.length;
    h.emit('error', { source: 'page', name: 'TypeError', message: 'boom' });
    await flush();
    expect(h.entries).toHaveLength(count);
    expect(h.handle.live.recentErrors).toHaveLength(1);
    expect(h.handle.live.status).toBe(ConnectionStatus.INITIALIZING);
  });

  it('a row refused before the restart stays blocked', () => {
    expect(harness({ connectionStatus: ConnectionStatus.DISCONNECTED, statusReason: 'LOGOUT' }).handle.live.blockedBy).toBe('LOGOUT');
    expect(harness({ connectionStatus: ConnectionStatus.AUTH_FAILURE, statusReason: null }).handle.live.blockedBy).toBe(ConnectionStatus.AUTH_FAILURE);
    expect(harness({ connectionStatus: ConnectionStatus.DISCONNECTED, statusReason: 'worker_exit' }).handle.live.blockedBy).toBeNull();
  });

  describe('onInvalid', () => {
    it('records a worker.invalid_message event, never acts on it, and counts it as an error', async () => {
      const h = await started();
      const statusBefore = h.statusEntries().length;
      h.listeners[0]!.onInvalid('qr' as never, 'qr: Too big');
      await flush();
      expect(h.entries.at(-1)).toEqual({
        instanceId: 'sales-01',
        event: { category: 'SESSION', type: 'worker.invalid_message', severity: 'MEDIUM', reason: 'qr: Too big', data: { event: 'qr', problem: 'qr: Too big' } },
      });
      expect(h.statusEntries()).toHaveLength(statusBefore);
      expect(h.handle.live.status).toBe(ConnectionStatus.INITIALIZING);
      expect(h.handle.live.recentErrors).toHaveLength(1);
    });

    it('records at most 10 per minute; the rest are only counted', async () => {
      const h = await started();
      for (let i = 0; i < 15; i++) h.listeners[0]!.onInvalid('ready' as never, `bad ${i}`);
      await flush();
      const invalid = () => h.entries.filter((e) => e.event?.type === 'worker.invalid_message');
      expect(invalid()).toHaveLength(10);
      expect(h.handle.live.recentErrors).toHaveLength(15);

      vi.setSystemTime(new Date(T0.getTime() + 61_000));
      h.listeners[0]!.onInvalid('ready' as never, 'later');
      await flush();
      expect(invalid()).toHaveLength(11);
    });

    it('the 10-per-minute budget is for refused messages: other errors of the minute do not use it up', async () => {
      // INVALID_EVENTS_PER_MINUTE: "Refused worker messages recorded as events per minute".
      const h = await started();
      for (let i = 0; i < 10; i++) h.emit('error', { source: 'page', name: 'Error', message: `page error ${i}` });
      await flush();
      expect(h.handle.live.recentErrors).toHaveLength(10);
      h.listeners[0]!.onInvalid('qr' as never, 'qr: Too big');
      await flush();
      expect(h.entries.filter((e) => e.event?.type === 'worker.invalid_message')).toHaveLength(1);
    });
  });

  it('events from an old generation after stop are ignored', async () => {
    const h = await started();
    const old = h.listeners[0]!;
    await h.handle.stop('disabled');
    await flush();
    expect(h.workers[0]!.stop).toHaveBeenCalled();
    expect(h.handle.live.status).toBe(ConnectionStatus.DISCONNECTED);
    expect(h.handle.live.reason).toBe('disabled');
    const count = h.entries.length;

    old.onEvent('qr' as never, { qr: 'LATE' });
    old.onEvent('ready' as never, { wid: 'late@c.us', pushname: 'Late' });
    old.onEvent('disconnected' as never, { reason: 'LOGOUT' });
    old.onEvent('browser_disconnected' as never, null);
    old.onInvalid('qr' as never, 'late garbage');
    await flush();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(h.entries).toHaveLength(count);
    expect(h.handle.live).toMatchObject({ qr: null, wid: null, blockedBy: null, status: ConnectionStatus.DISCONNECTED, nextReconnectAt: null });
    expect(h.handle.live.recentErrors).toHaveLength(0);
    expect(h.launch).toHaveBeenCalledTimes(1);

    // a new worker's events are followed; the old one's still are not
    await h.handle.start('enabled', true);
    await flush();
    old.onEvent('qr' as never, { qr: 'LATE' });
    await flush();
    expect(h.handle.live.status).toBe(ConnectionStatus.INITIALIZING);
    h.emit('qr', { qr: 'NEW' });
    await flush();
    expect(h.handle.live.qr?.value).toBe('NEW');
  });

  it('a worker started while a stop runs is nobody\'s: it is stopped and its events are ignored', async () => {
    const h = harness();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    h.launch.mockImplementationOnce(async (_id, listener) => {
      h.listeners.push(listener);
      await gate;
      const w = fakeWorker();
      h.workers.push(w);
      return w.client;
    });
    const starting = h.handle.start('enabled');
    await flush();
    const stopping = h.handle.stop('disabled');
    release();
    await starting;
    await stopping;
    await flush();
    expect(h.workers[0]!.stop).toHaveBeenCalled();
    expect(h.handle.currentWorker).toBeNull();
    expect(h.handle.live.status).toBe(ConnectionStatus.DISCONNECTED);
    h.emit('qr', { qr: 'LATE' });
    await flush();
    expect(h.handle.live.qr).toBeNull();
  });

  it('a failed launch → DISCONNECTED "start_failed" (lastError) and a scheduled reconnect', async () => {
    const h = harness();
    h.failNextLaunch(new Error('chromium missing'));
    await h.handle.start('enabled');
    await flush();
    const [init, failed, reconnecting] = h.statusEntries();
    expect(init!.change).toMatchObject({ to: ConnectionStatus.INITIALIZING });
    expect(failed!.change).toEqual({
      kind: 'status',
      to: ConnectionStatus.DISCONNECTED,
      reason: 'start_failed',
      patch: { lastError: 'start_failed: chromium missing' },
    });
    expect(failed!.event).toMatchObject({ data: { error: 'chromium missing' } });
    expect(reconnecting!.change).toEqual({ kind: 'status', to: ConnectionStatus.RECONNECTING, reason: 'start_failed', patch: { reconnectAttempts: 1 } });
    expect(h.handle.live).toMatchObject({
      status: ConnectionStatus.RECONNECTING,
      lastError: 'start_failed: chromium missing',
      nextReconnectAt: new Date(T0.getTime() + 1_000),
      workerPid: null,
    });
    expect(h.handle.hasWorker).toBe(false);

    await vi.advanceTimersByTimeAsync(1_000);
    await flush();
    expect(h.launch).toHaveBeenCalledTimes(2);
    expect(h.handle.live.status).toBe(ConnectionStatus.INITIALIZING);
  });

  it('stop clears a pending reconnect', async () => {
    const h = harness();
    h.failNextLaunch(new Error('nope'));
    await h.handle.start('enabled');
    await flush();
    expect(h.handle.live.nextReconnectAt).not.toBeNull();
    await h.handle.stop('disabled');
    expect(h.handle.live.nextReconnectAt).toBeNull();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(h.launch).toHaveBeenCalledTimes(1);
  });
});
