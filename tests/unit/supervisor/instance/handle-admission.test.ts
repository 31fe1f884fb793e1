import { describe, expect, it, vi } from 'vitest';
import { ConnectionStatus, type Instance } from '../../../../src/domain/instance.js';
import type { Journal, JournalEntry } from '../../../../src/supervisor/journal.js';
import { InstanceHandle, type WorkerLauncher } from '../../../../src/supervisor/instance/handle.js';
import { StartGate, type FleetMemoryMeasurement } from '../../../../src/supervisor/start-gate.js';
import type { WorkerClient, WorkerExit } from '../../../../src/worker/handle.js';
import { instanceRow } from '../../../support/instance-row.js';
import { silentLogger } from '../../../support/logger.js';

const MIB = 1024 * 1024;

const flush = () => new Promise((r) => setImmediate(r));

const row = (id: string, over: Partial<Instance> = {}): Instance => instanceRow({ id, ...over });

function fakeClient(): WorkerClient {
  let exit!: (e: WorkerExit) => void;
  const exited = new Promise<WorkerExit>((r) => (exit = r));
  return {
    pid: 4321,
    browserPid: 8765,
    alive: true,
    exited,
    stop: vi.fn(async () => {
      exit({ code: 0, signal: null });
      return exited;
    }),
    kill: vi.fn(() => exit({ code: null, signal: 'SIGKILL' })),
  } as unknown as WorkerClient;
}

/**
 * Handles over a fake journal sharing one real StartGate (limit 1) whose memory the test sets;
 * each launch stays pending until the test finishes it.
 */
function fleet(memoryMb = 0) {
  const entries: JournalEntry[] = [];
  const journal = { record: async (e: JournalEntry) => void entries.push(e), track: () => undefined } as unknown as Journal;
  const memory = { mb: memoryMb };
  const gate = new StartGate({
    limit: 1,
    capBytes: 1000 * MIB,
    criticalPercent: 95,
    measure: (): FleetMemoryMeasurement => ({ at: Date.now(), totalBytes: memory.mb * MIB, byInstance: new Map(), expectedBytes: 200 * MIB, expectedFrom: 'setting' }),
  });
  const pending = new Map<string, (client: WorkerClient) => void>();
  const launched: string[] = [];
  const launch = vi.fn<WorkerLauncher>(
    (id) =>
      new Promise<WorkerClient>((resolve) => {
        launched.push(id);
        pending.set(id, resolve);
      }),
  );
  const settings = { workerStopTimeoutMs: 1_000, qrIdleTimeoutMs: 60_000, reconnect: { baseMs: 1_000, maxMs: 30_000, jitterMs: 0, maxAttempts: 3, firstDelayMs: 0 } };
  const handle = (id: string, over: Partial<Instance> = {}) => new InstanceHandle(id, row(id, over), { journal, log: silentLogger, launch, settings, gate });
  return { gate, memory, launched, handle, entries, finish: (id: string) => pending.get(id)!(fakeClient()) };
}

describe('InstanceHandle at the start gate', () => {
  it('a start that must wait keeps its status, shows why in the live view, and launches in its turn', async () => {
    const f = fleet();
    const a = f.handle('a');
    const b = f.handle('b', { connectionStatus: ConnectionStatus.RECONNECTING, statusReason: 'rehydrate' });
    const startA = a.start('created', true);
    await flush();
    expect(a.live.status).toBe(ConnectionStatus.INITIALIZING);
    expect(a.live.admission).toBeNull();

    // requestStart answers at once when the start waits; start() would wait for the launch.
    await b.requestStart('rehydrate');
    expect(b.waitingForAdmission).toBe(true);
    expect(b.live.status).toBe(ConnectionStatus.RECONNECTING);
    expect(b.live.admission).toMatchObject({ waiting: true, wait: 'launches', position: 1, reason: '1 launch(es) in progress, at most 1 (LAUNCH_CONCURRENCY)' });
    expect(b.hasWorker).toBe(true); // its pending start holds the slot: nobody else starts it
    expect(await b.runningWorker()).toBeNull(); // and nothing waits on a launch that has not begun
    expect(f.launched).toEqual(['a']);

    // a's launch finishes (handshake answered): its slot frees, b launches.
    f.finish('a');
    await startA;
    await flush();
    expect(f.launched).toEqual(['a', 'b']);
    expect(b.live.admission).toBeNull();
    expect(b.live.status).toBe(ConnectionStatus.INITIALIZING);
    f.finish('b');
    await flush();
    expect(b.currentWorker).not.toBeNull();
    expect(f.gate.stats()).toMatchObject({ launching: 0, waiting: 0 });
  });

  it('a stop while waiting takes the start out of the queue: no launch, status as the stop says', async () => {
    const f = fleet(900); // 900 + 200 expected > 1000: everything waits for memory
    const a = f.handle('a');
    const started = a.start('enabled', true);
    await flush();
    expect(a.live.admission).toMatchObject({ wait: 'memory', reason: 'fleet memory 900 MiB + 200 MiB expected > 95% of cap 1000 MiB' });
    await a.stop('disabled');
    await started;
    expect(a.live.admission).toBeNull();
    expect(a.hasWorker).toBe(false);
    expect(f.gate.stats().waiting).toBe(0);
    f.memory.mb = 0;
    f.gate.poke();
    await flush();
    expect(f.launched).toEqual([]);
    expect(a.live.status).toBe(ConnectionStatus.DISCONNECTED);
    expect(a.live.reason).toBe('disabled');
  });

  it('a start the state machine would refuse does not queue', async () => {
    const f = fleet(900);
    const a = f.handle('a', { connectionStatus: ConnectionStatus.CONNECTED });
    await a.start('qr_requested');
    expect(a.live.admission).toBeNull();
    expect(f.gate.stats().waiting).toBe(0);
  });

  it('the shutdown closes the gate: a waiting start gives up without launching', async () => {
    const f = fleet(900);
    const a = f.handle('a');
    const started = a.start('enabled');
    await flush();
    expect(a.waitingForAdmission).toBe(true);
    f.gate.close();
    await started;
    expect(f.launched).toEqual([]);
    expect(a.hasWorker).toBe(false);
  });
});
