import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IpcChannel, IpcClosedError, IpcTimeoutError } from '../../../lib/ipc/index.js';
import { ChildMessage, ParentMessage } from '../../support/fixtures/ipc-protocol.js';

const FIXTURES = join(import.meta.dirname, '../../support/fixtures');
const STARTUP_TIMEOUT_MS = 20_000;

interface Forked {
  child: ChildProcess;
  channel: IpcChannel<ParentMessage, ChildMessage>;
  drops: string[];
}

const started: Forked[] = [];

/** Rejects if `promise` has not settled within `ms`, so a broken fixture fails the test instead of hanging it. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Forks a fixture under tsx and waits for its 'ready' event; returns the ready payload too. */
async function start(fixture: string): Promise<Forked & { readyPayload: unknown }> {
  const child = fork(join(FIXTURES, fixture), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const drops: string[] = [];
  const channel = new IpcChannel<ParentMessage, ChildMessage>(child, {
    receives: Object.values(ChildMessage),
    onDrop: (reason) => drops.push(reason),
  });
  const forked = { child, channel, drops };
  started.push(forked);
  const ready = new Promise<unknown>((resolve) => {
    const off = channel.on(ChildMessage.Ready, (payload) => {
      off();
      resolve(payload);
    });
  });
  const readyPayload = await within(ready, STARTUP_TIMEOUT_MS, `${fixture} ready`);
  return { ...forked, readyPayload };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return once(child, 'exit').then(() => undefined);
}

afterEach(async () => {
  for (const { child, channel } of started.splice(0)) {
    channel.close();
    const gone = exited(child);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await gone;
  }
});

describe('IpcChannel over a real fork()', () => {
  it('round-trips requests and events with an echo child', async () => {
    const { channel } = await start('ipc-echo-child.ts');
    const payload = { text: 'héllo', list: [1, 2, 3], nested: { ok: true } };
    await expect(channel.request(ParentMessage.Echo, payload, 5000)).resolves.toEqual(payload);

    const pong = new Promise((resolve) => channel.on(ChildMessage.Pong, resolve));
    expect(channel.emit(ParentMessage.Ping, 'marco')).toBe(true);
    await expect(within(pong, 5000, 'pong')).resolves.toBe('marco');
    expect(channel.stats()).toMatchObject({ dropped: 0, pending: 0, sendFailures: 0 });
  });

  it("rethrows the child's handler error with its name, message and code", async () => {
    const { channel } = await start('ipc-echo-child.ts');
    const error = await channel.request(ParentMessage.Fail, 'on purpose', 5000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'FixtureError', message: 'asked to fail: on purpose', code: 'FIXTURE_FAILED' });
  });

  it('lets the child exit by itself once the parent disconnects', async () => {
    const { child } = await start('ipc-echo-child.ts');
    const gone = exited(child);
    child.disconnect();
    await within(gone, 10_000, 'child exit after disconnect');
    expect(child.exitCode).toBe(0);
  });

  it('rejects a pending request with IPC_CLOSED when the child dies mid-request', async () => {
    const { child, channel } = await start('ipc-crash-child.ts');
    const error = await within(channel.request(ParentMessage.Crash, null, 60_000), 10_000, 'rejection').catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(IpcClosedError);
    expect(error).toMatchObject({ code: 'IPC_CLOSED' });
    await exited(child);
    expect(child.exitCode).toBe(3);
    expect(channel.closed).toBe(true);
    expect(channel.stats().pending).toBe(0);
  });

  it('times out a request the child never answers, and the channel keeps working', async () => {
    const { child, channel } = await start('ipc-hang-child.ts');
    const error = await channel.request(ParentMessage.Stall, null, 300).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpcTimeoutError);
    expect(error).toMatchObject({ code: 'IPC_TIMEOUT' });
    expect(channel.stats().pending).toBe(0);
    expect(child.exitCode).toBeNull();
    await expect(channel.request(ParentMessage.Echo, 'still here', 5000)).resolves.toBe('still here');
  });

  it('drops and counts messages of unknown types or shapes from the child', async () => {
    const { channel, drops, readyPayload } = await start('ipc-unknown-types-child.ts');
    expect(readyPayload).toEqual({ junkSent: 5 });
    expect(channel.stats()).toMatchObject({ received: 6, dropped: 5 });
    expect(drops).toEqual([
      'unknown event type from-the-future',
      'unknown event type another-unknown',
      'malformed message: unknown kind "broadcast"',
      'malformed message: not an object',
      'reply to unknown request #12345 (timed out or never sent)',
    ]);
  });
});
