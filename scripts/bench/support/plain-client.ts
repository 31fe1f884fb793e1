/**
 * A plain whatsapp-web.js Client in its own Node process: what an application runs without
 * wa-fleet, with the library's default puppeteer options plus only the flags given in `init`
 * (what this offline machine needs). The footprint bench forks one per instance so that its Node
 * process is measured the same way as a worker's. It answers the few worker-protocol messages the
 * bench uses (init, simulate, shutdown) and reports qr, ready and the browser pid.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import wwebjs from 'whatsapp-web.js';
import { serializeError } from '../../../lib/errors.js';
import { IpcChannel } from '../../../lib/ipc/index.js';
import { withTimeout } from '../../../lib/timeout.js';
import { WORKER_COMMANDS, WorkerCommand, WorkerEvent } from '../../../src/worker/protocol.js';
import { callFake, fakeClientOptions, type FakeWaControl } from '../../../src/demo/fake-web.js';

const { Client, LocalAuth } = wwebjs;

export interface PlainClientInit {
  instanceId: string;
  sessionRoot: string;
  chromePath: string;
  chromiumArgs: string[];
}

interface SimulateRequest {
  action: keyof FakeWaControl;
  args: unknown[];
  timeoutMs: number;
}

const BROWSER_POLL_MS = 20;
const EXIT_DESTROY_TIMEOUT_MS = 5_000;

const channel = new IpcChannel<WorkerEvent, WorkerCommand>(process, { receives: WORKER_COMMANDS });
let client: InstanceType<typeof Client> | null = null;

/** The library sets `pupBrowser` inside initialize() and says nothing; the bench needs the pid to measure the tree. */
function reportBrowserWhenLaunched(c: InstanceType<typeof Client>): void {
  const timer = setInterval(() => {
    const pid = c.pupBrowser?.process()?.pid;
    if (pid === undefined) return;
    clearInterval(timer);
    channel.emit(WorkerEvent.BROWSER_LAUNCHED, { pid });
  }, BROWSER_POLL_MS);
}

async function destroyAndExit(code: number, timeoutMs: number): Promise<void> {
  await withTimeout(client?.destroy() ?? Promise.resolve(), timeoutMs, 'client destroy').catch(() => undefined);
  process.exit(code);
}

channel.handle(WorkerCommand.INIT, async (payload) => {
  const init = payload as PlainClientInit;
  const cacheDir = join(init.sessionRoot, '.fake-web', init.instanceId);
  mkdirSync(cacheDir, { recursive: true });
  const c = new Client({
    authStrategy: new LocalAuth({ clientId: init.instanceId, dataPath: init.sessionRoot }),
    puppeteer: { executablePath: init.chromePath, headless: true, args: init.chromiumArgs },
    ...fakeClientOptions(cacheDir),
  });
  client = c;
  c.on('qr', (qr: string) => channel.emit(WorkerEvent.QR, { qr }));
  c.on('ready', () => channel.emit(WorkerEvent.READY, { wid: c.info?.wid?._serialized ?? null }));
  reportBrowserWhenLaunched(c);
  await c.initialize();
  return { browserPid: c.pupBrowser?.process()?.pid ?? null };
});

// Unlike the worker's simulate, this one waits for the action to finish: allocMb resolves once
// the page holds the memory, which is when the bench wants to measure.
channel.handle(WorkerCommand.SIMULATE, async (payload) => {
  const { action, args, timeoutMs } = payload as SimulateRequest;
  const page = client?.pupPage;
  if (!page) throw new Error('the client has no page yet');
  await withTimeout(callFake(page, action, ...(args as Parameters<FakeWaControl[typeof action]>)), timeoutMs, `simulate ${action}`);
});

channel.handle(WorkerCommand.SHUTDOWN, async (payload) => {
  const { timeoutMs } = payload as { timeoutMs: number };
  await withTimeout(client?.destroy() ?? Promise.resolve(), timeoutMs, 'client destroy');
  client = null;
  setTimeout(() => process.exit(0), 20);
  return { destroyed: true };
});

// Measurement must not die of the library's stray rejections ('auth timeout', TargetCloseError):
// say so on stderr and keep running, as an application that cares would.
process.on('unhandledRejection', (reason) => {
  process.stderr.write(`plain client ${process.pid}: unhandled rejection: ${serializeError(reason).message}\n`);
});
process.on('disconnect', () => void destroyAndExit(0, EXIT_DESTROY_TIMEOUT_MS));

channel.emit(WorkerEvent.HELLO, { pid: process.pid });
