/**
 * Worker process entry: hosts one WhatsApp client for the supervisor that forked it. Speaks only
 * over the IPC channel; exits when the supervisor asks, or when the channel closes (the
 * supervisor died) after destroying its client so no Chromium outlives it.
 */
import { z } from 'zod';
import { serializeError } from '../../lib/errors.js';
import { IpcChannel } from '../../lib/ipc/index.js';
import { AppError } from '../errors/index.js';
import { ClientDriver, NotRunningError } from './driver.js';
import { describeIssue, REQUEST_SCHEMAS } from './messages.js';
import { WORKER_COMMANDS, WorkerCommand, WorkerEvent, type WorkerInit, type WorkerRequest } from './protocol.js';
import { MIN_BACKUP_INTERVAL_MS } from './session-transfer.js';

const EXIT_DESTROY_TIMEOUT_MS = 5_000;

const initSchema = z.object({
  instanceId: z.string(),
  sessionRoot: z.string(),
  chromePath: z.string(),
  cachePath: z.string(),
  authTimeoutMs: z.number().int().positive(),
  fakeWeb: z.boolean(),
  browserSandbox: z.boolean(),
  fakeScenario: z.record(z.string(), z.unknown()).optional(),
  sessionBackup: z.object({ intervalMs: z.number().int().min(MIN_BACKUP_INTERVAL_MS), firstDelayMs: z.number().int().positive().optional() }).nullish(),
  leaseMs: z.number().int().nullish(),
});
const leaseSchema = z.object({ validForMs: z.number().int() });
const timeoutSchema = z.object({ timeoutMs: z.number().int().positive() });
const pairingSchema = timeoutSchema.extend({ phone: z.string().regex(/^\d{6,15}$/) });
const simulateSchema = timeoutSchema.extend({ action: z.string().regex(/^\w{1,32}$/), args: z.array(z.unknown()).default([]) });

/** A request of the message commands, or VALIDATION_FAILED: nothing malformed reaches the page. */
function checked<S extends z.ZodType>(schema: S, payload: unknown): z.infer<S> {
  const parsed = schema.safeParse(payload);
  if (!parsed.success) throw new AppError('VALIDATION_FAILED', describeIssue(parsed.error));
  return parsed.data;
}

const channel = new IpcChannel<WorkerEvent | WorkerRequest, WorkerCommand>(process, {
  receives: WORKER_COMMANDS,
  onDrop: (reason) => process.stderr.write(`worker ${process.pid}: dropped a message: ${reason}\n`),
});

let driver: ClientDriver | null = null;
let exiting = false;

const report = (type: WorkerEvent, payload?: unknown) => channel.emit(type, payload);

function running(): ClientDriver {
  if (!driver) throw new NotRunningError();
  return driver;
}

async function exit(code: number): Promise<void> {
  if (exiting) return;
  exiting = true;
  await driver?.destroy(EXIT_DESTROY_TIMEOUT_MS);
  process.exit(code);
}

let leaseTimer: NodeJS.Timeout | null = null;

/**
 * CLUSTER=on: the supervisor's lease ran out without a newer word from it (it is paused, frozen,
 * or cut from MySQL and fenced itself): the browser's group is killed and the worker leaves at
 * once, before another node may start this session. No polite destroy: it could take longer.
 */
function leaseRanOut(): void {
  const pid = driver?.browserPid;
  process.stderr.write(`worker ${process.pid}: the node's lease ran out; killing the browser and exiting\n`);
  if (pid) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  process.exit(0);
}

function armLease(validForMs: number): void {
  if (leaseTimer) clearTimeout(leaseTimer);
  if (validForMs <= 0) return leaseRanOut();
  leaseTimer = setTimeout(leaseRanOut, validForMs);
}

channel.handle(WorkerCommand.LEASE, (p) => {
  armLease(leaseSchema.parse(p).validForMs);
  return { ok: true };
});
channel.handle(WorkerCommand.INIT, async (payload) => {
  if (driver) throw new Error('this worker has already been initialized');
  const init: WorkerInit = initSchema.parse(payload);
  if (init.leaseMs !== undefined && init.leaseMs !== null) armLease(init.leaseMs);
  driver = new ClientDriver(init, report, (type, p, timeoutMs) => channel.request(type, p, timeoutMs));
  await driver.start();
  return { browserPid: driver.browserPid };
});
channel.handle(WorkerCommand.PING, (p) => running().ping(timeoutSchema.parse(p).timeoutMs));
channel.handle(WorkerCommand.DEEP, (p) => running().deep(timeoutSchema.parse(p).timeoutMs));
channel.handle(WorkerCommand.GC, (p) => running().gc(timeoutSchema.parse(p).timeoutMs));
channel.handle(WorkerCommand.LOGOUT, (p) => running().logout(timeoutSchema.parse(p).timeoutMs));
channel.handle(WorkerCommand.RESTART, async (p) => {
  await running().restart(timeoutSchema.parse(p).timeoutMs);
  return { browserPid: running().browserPid };
});
channel.handle(WorkerCommand.PAIRING_CODE, async (p) => {
  const { phone, timeoutMs } = pairingSchema.parse(p);
  return { code: await running().pairingCode(phone, timeoutMs) };
});
channel.handle(WorkerCommand.SIMULATE, (p) => {
  const { action, args, timeoutMs } = simulateSchema.parse(p);
  return running().simulate(action, args, timeoutMs);
});
channel.handle(WorkerCommand.SEND_MESSAGE, (p) => {
  const { timeoutMs } = checked(timeoutSchema, p);
  return running().sendMessage(checked(REQUEST_SCHEMAS.send, p), timeoutMs);
});
channel.handle(WorkerCommand.FIND_MESSAGE, (p) => {
  const { timeoutMs } = checked(timeoutSchema, p);
  return running().findMessage(checked(REQUEST_SCHEMAS.find, p), timeoutMs);
});
channel.handle(WorkerCommand.DOWNLOAD_MEDIA, (p) => {
  const { timeoutMs } = checked(timeoutSchema, p);
  return running().downloadMedia(checked(REQUEST_SCHEMAS.downloadMedia, p).messageId, timeoutMs);
});
channel.handle(WorkerCommand.DEMO_QUERY, (p) => {
  const { timeoutMs } = checked(timeoutSchema, p);
  const { action, args } = checked(REQUEST_SCHEMAS.demoQuery, p);
  return running().demoQuery(action, args, timeoutMs);
});
channel.handle(WorkerCommand.INBOUND_RECORDED, (p) => {
  running().inboundRecorded(z.object({ ids: z.array(z.string()).max(1_000) }).parse(p).ids);
  return { ok: true };
});
channel.handle(WorkerCommand.BACKUP_SESSION, async () => ({ saved: await running().backupNow() }));
channel.handle(WorkerCommand.SHUTDOWN, async (p) => {
  const { timeoutMs } = timeoutSchema.parse(p);
  await driver?.destroy(timeoutMs);
  driver = null;
  // Answer first, then leave: the reply must reach the supervisor.
  setTimeout(() => void exit(0), 20);
  return { destroyed: true };
});

// The library rejects from places nobody awaits ('auth timeout', TargetCloseError, "Execution
// context was destroyed"). They are reported, count toward the error budget, and are not fatal.
process.on('unhandledRejection', (reason) => {
  const e = serializeError(reason);
  report(WorkerEvent.ERROR, { source: 'unhandled_rejection', ...e });
});
// A real bug in this process: say so before dying, never die silently.
process.on('uncaughtException', (err) => {
  report(WorkerEvent.ERROR, { source: 'uncaught_exception', ...serializeError(err) });
  void exit(1);
});
process.on('disconnect', () => void exit(0));
// The supervisor owns shutdown: a terminal's Ctrl+C reaches the whole group, and the worker must
// not race the supervisor's orderly stop. SIGTERM from the supervisor means "now".
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => void exit(0));

report(WorkerEvent.HELLO, { pid: process.pid });
