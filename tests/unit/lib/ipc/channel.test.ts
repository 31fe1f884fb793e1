import { afterEach, describe, expect, it, vi } from 'vitest';
import { CodedError } from '../../../../lib/errors.js';
import { IpcChannel, IpcClosedError, IpcTimeoutError, type IpcEndpoint } from '../../../../lib/ipc/index.js';
import { memoryPair } from './memory-endpoint.js';

/** What the "parent" sends / what the "child" sends, as the two enums a real protocol would declare. */
const ParentMessage = { Ping: 'ping', Echo: 'echo', Fail: 'fail', Stall: 'stall', Unhandled: 'unhandled' } as const;
type ParentMessage = (typeof ParentMessage)[keyof typeof ParentMessage];
const ChildMessage = { Pong: 'pong', Status: 'status', AskParent: 'ask-parent' } as const;
type ChildMessage = (typeof ChildMessage)[keyof typeof ChildMessage];

class QuotaError extends CodedError {
  constructor() {
    super('QUOTA_EXCEEDED', 'quota exceeded for today');
  }
}

const channels: Array<{ close(): void }> = [];

function connect(options: { parentDrops?: (reason: string) => void; childReceives?: ParentMessage[] } = {}) {
  const [parentEnd, childEnd] = memoryPair();
  const parent = new IpcChannel<ParentMessage, ChildMessage>(parentEnd, {
    receives: Object.values(ChildMessage),
    onDrop: options.parentDrops,
  });
  const child = new IpcChannel<ChildMessage, ParentMessage>(childEnd, {
    receives: options.childReceives ?? Object.values(ParentMessage),
  });
  channels.push(parent, child);
  return { parent, child, parentEnd, childEnd };
}

/** Lets the in-memory channel deliver what is in flight (it hops through setImmediate). */
const flush = async (rounds = 3) => {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
};

afterEach(() => {
  vi.useRealTimers();
  for (const channel of channels.splice(0)) channel.close();
});

describe('IpcChannel events', () => {
  it('delivers an event with its payload to every listener of its type', async () => {
    const { parent, child } = connect();
    const first = vi.fn();
    const second = vi.fn();
    const other = vi.fn();
    parent.on('pong', first);
    parent.on('pong', second);
    parent.on('status', other);
    expect(child.emit('pong', { n: 1 })).toBe(true);
    await flush();
    expect(first).toHaveBeenCalledWith({ n: 1 });
    expect(second).toHaveBeenCalledWith({ n: 1 });
    expect(other).not.toHaveBeenCalled();
  });

  it('stops calling a listener after its unsubscribe function is called', async () => {
    const { parent, child } = connect();
    const listener = vi.fn();
    const unsubscribe = parent.on('pong', listener);
    child.emit('pong', 1);
    await flush();
    unsubscribe();
    child.emit('pong', 2);
    await flush();
    expect(listener.mock.calls).toEqual([[1]]);
  });

  it('keeps delivering to other listeners when one throws, and reports the error', async () => {
    const onListenerError = vi.fn();
    const [parentEnd, childEnd] = memoryPair();
    const parent = new IpcChannel<ParentMessage, ChildMessage>(parentEnd, { receives: ['pong'], onListenerError });
    const child = new IpcChannel<ChildMessage, ParentMessage>(childEnd, { receives: [] });
    channels.push(parent, child);
    const after = vi.fn();
    parent.on('pong', () => {
      throw new Error('listener bug');
    });
    parent.on('pong', after);
    child.emit('pong');
    await flush();
    expect(after).toHaveBeenCalledTimes(1);
    expect(onListenerError).toHaveBeenCalledWith(expect.objectContaining({ message: 'listener bug' }), 'pong');
    expect(parent.stats().listenerErrors).toBe(1);
  });

  it('counts what it sends and receives', async () => {
    const { parent, child } = connect();
    child.emit('pong');
    child.emit('status');
    await flush();
    expect(child.stats()).toMatchObject({ sent: 2, received: 0 });
    expect(parent.stats()).toMatchObject({ sent: 0, received: 2, dropped: 0 });
  });
});

describe('IpcChannel requests', () => {
  it('answers a request with the handler result', async () => {
    const { parent, child } = connect();
    child.handle('echo', async (payload) => ({ echoed: payload }));
    await expect(parent.request('echo', { text: 'hi' }, 1000)).resolves.toEqual({ echoed: { text: 'hi' } });
    expect(parent.stats().pending).toBe(0);
  });

  it('accepts handlers that return synchronously, including undefined', async () => {
    const { parent, child } = connect();
    child.handle('echo', (payload) => payload);
    child.handle('ping', () => undefined);
    await expect(parent.request('echo', 5, 1000)).resolves.toBe(5);
    await expect(parent.request('ping', null, 1000)).resolves.toBeUndefined();
  });

  it('works in both directions over the same pair', async () => {
    const { parent, child } = connect();
    parent.handle('ask-parent', (payload) => `parent saw ${String(payload)}`);
    await expect(child.request('ask-parent', 'x', 1000)).resolves.toBe('parent saw x');
  });

  it('matches replies to requests by id when they come back out of order', async () => {
    const { parent, child } = connect();
    child.handle('echo', async (payload) => {
      await new Promise((r) => setTimeout(r, payload === 'slow' ? 30 : 0));
      return payload;
    });
    const slow = parent.request('echo', 'slow', 1000);
    const fast = parent.request('echo', 'fast', 1000);
    expect(await Promise.race([slow, fast])).toBe('fast');
    await expect(slow).resolves.toBe('slow');
  });

  it("rethrows the handler's error on the requester with its name, message and code", async () => {
    const { parent, child } = connect();
    child.handle('fail', () => {
      throw new QuotaError();
    });
    const error = await parent.request('fail', null, 1000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'QuotaError', message: 'quota exceeded for today', code: 'QUOTA_EXCEEDED' });
  });

  it('answers a known type without a handler with IPC_NO_HANDLER', async () => {
    const { parent } = connect();
    await expect(parent.request('unhandled', null, 1000)).rejects.toMatchObject({ code: 'IPC_NO_HANDLER' });
  });

  it('drops and counts a request of an unknown type, and still answers it so the requester need not time out', async () => {
    const { parent, child } = connect({ childReceives: ['ping'] });
    await expect(parent.request('echo', 1, 60_000)).rejects.toMatchObject({ code: 'IPC_NO_HANDLER' });
    expect(child.stats().dropped).toBe(1);
  });

  it('unregisters a handler with the returned function, and refuses a second handler for one type', async () => {
    const { parent, child } = connect();
    const off = child.handle('echo', () => 'first');
    expect(() => child.handle('echo', () => 'second')).toThrow(/already registered/);
    off();
    child.handle('echo', () => 'second');
    await expect(parent.request('echo', null, 1000)).resolves.toBe('second');
  });

  it('times out with IPC_TIMEOUT, forgets the request, and drops the late reply', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const drops: string[] = [];
    const { parent, child } = connect({ parentDrops: (reason) => drops.push(reason) });
    let release!: (value: string) => void;
    child.handle('stall', () => new Promise<string>((r) => (release = r)));
    const outcome = parent.request('stall', null, 5000);
    const rejected = expect(outcome).rejects.toBeInstanceOf(IpcTimeoutError);
    await flush();
    expect(parent.stats().pending).toBe(1);
    await vi.advanceTimersByTimeAsync(5000);
    await rejected;
    await expect(outcome).rejects.toMatchObject({ code: 'IPC_TIMEOUT', message: 'request stall #1 got no reply within 5000 ms' });
    expect(parent.stats().pending).toBe(0);
    release('too late');
    await flush();
    expect(parent.stats().dropped).toBe(1);
    expect(drops).toEqual(['reply to unknown request #1 (timed out or never sent)']);
  });

  it('rejects an invalid timeout with a RangeError', async () => {
    const { parent } = connect();
    await expect(parent.request('echo', null, 0)).rejects.toThrow(RangeError);
    await expect(parent.request('echo', null, Number.NaN)).rejects.toThrow(RangeError);
  });

  it('rejects a request whose payload cannot be serialized, leaving nothing pending', async () => {
    const { parent } = connect();
    await expect(parent.request('echo', { big: 1n }, 1000)).rejects.toThrow(TypeError);
    expect(parent.stats().pending).toBe(0);
  });

  it('throws from emit() when the payload cannot be serialized', () => {
    const { child } = connect();
    expect(() => child.emit('status', 1n)).toThrow(TypeError);
  });

  it('sends an error reply when the handler result cannot be serialized', async () => {
    const { parent, child } = connect();
    child.handle('echo', () => ({ big: 1n }));
    await expect(parent.request('echo', null, 1000)).rejects.toMatchObject({ name: 'TypeError' });
  });

  it('rejects with IPC_CLOSED (keeping the cause) when the transport fails to send, and counts it', async () => {
    const { parent, parentEnd } = connect();
    parentEnd.failNextSend = true;
    const error = await parent.request('echo', null, 60_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpcClosedError);
    expect((error as Error).cause).toMatchObject({ code: 'ERR_IPC_CHANNEL_CLOSED' });
    expect(parent.stats()).toMatchObject({ sendFailures: 1, pending: 0 });
  });

  it('rejects with IPC_CLOSED when a request is made on a disconnected endpoint', async () => {
    const { parent, parentEnd } = connect();
    parentEnd.connected = false;
    await expect(parent.request('echo', null, 60_000)).rejects.toMatchObject({ code: 'IPC_CLOSED' });
    expect(parent.emit('ping')).toBe(false);
    expect(parent.closed).toBe(true);
  });
});

describe('IpcChannel malformed and unknown messages', () => {
  it.each([
    ['a string', 'hello'],
    ['null', null],
    ['an array', [1, 2]],
    ['no type', { kind: 'event' }],
    ['an empty type', { kind: 'event', type: '' }],
    ['a non-string type', { kind: 'event', type: 7 }],
    ['an unknown kind', { kind: 'shout', type: 'pong' }],
    ['a request without id', { kind: 'request', type: 'status' }],
    ['a request with a fractional id', { kind: 'request', type: 'status', id: 1.5 }],
    ['a reply with id 0', { kind: 'reply', type: 'echo', id: 0 }],
    ['a reply with a malformed error', { kind: 'reply', type: 'echo', id: 1, error: { message: 'no name' } }],
    ['an event of an unknown type', { kind: 'event', type: 'surprise' }],
    ['a reply to no request', { kind: 'reply', type: 'echo', id: 42, payload: 1 }],
  ])('drops and counts %s without calling any listener', async (_, raw) => {
    const onDrop = vi.fn();
    const [parentEnd] = memoryPair();
    const parent = new IpcChannel<ParentMessage, ChildMessage>(parentEnd, { receives: ['pong', 'status'], onDrop });
    channels.push(parent);
    const listener = vi.fn();
    parent.on('pong', listener);
    parent.on('status', listener);
    parentEnd.inject(raw);
    expect(parent.stats()).toMatchObject({ received: 1, dropped: 1 });
    expect(onDrop).toHaveBeenCalledWith(expect.any(String), raw);
    expect(listener).not.toHaveBeenCalled();
  });

  it('still works normally after dropping garbage', async () => {
    const { parent, child, parentEnd } = connect();
    const listener = vi.fn();
    parent.on('pong', listener);
    parentEnd.inject({ kind: 'event', type: 'nonsense' });
    child.emit('pong', 'fine');
    await flush();
    expect(listener).toHaveBeenCalledWith('fine');
    expect(parent.stats().dropped).toBe(1);
  });
});

describe('IpcChannel closing', () => {
  it('close() rejects every pending request with IPC_CLOSED and detaches from the endpoint', async () => {
    const { parent, child, parentEnd } = connect();
    child.handle('stall', () => new Promise(() => {}));
    const a = parent.request('stall', 1, 60_000);
    const b = parent.request('stall', 2, 60_000);
    await flush();
    parent.close();
    await expect(a).rejects.toBeInstanceOf(IpcClosedError);
    await expect(b).rejects.toMatchObject({ code: 'IPC_CLOSED', message: 'request stall #2 abandoned: channel closed' });
    expect(parent.stats().pending).toBe(0);
    expect(parent.closed).toBe(true);
    expect(parentEnd.listenerCount('message')).toBe(0);
    expect(parentEnd.listenerCount('disconnect')).toBe(0);
  });

  it('after close(), emit returns false and request rejects with IPC_CLOSED', async () => {
    const { parent } = connect();
    parent.close();
    parent.close();
    expect(parent.emit('ping')).toBe(false);
    await expect(parent.request('echo', null, 1000)).rejects.toMatchObject({ code: 'IPC_CLOSED' });
    expect(parent.stats().sent).toBe(0);
  });

  it('a disconnect of the endpoint rejects pending requests with IPC_CLOSED', async () => {
    const { parent, child, parentEnd } = connect();
    child.handle('stall', () => new Promise(() => {}));
    const pending = parent.request('stall', null, 60_000);
    await flush();
    parentEnd.disconnect();
    await expect(pending).rejects.toMatchObject({
      code: 'IPC_CLOSED',
      message: 'request stall #1 abandoned: endpoint disconnected',
    });
    expect(parent.closed).toBe(true);
    await flush();
    expect(child.closed).toBe(true);
  });

  it('refuses an endpoint without an IPC channel (a process that was not forked)', () => {
    const notForked = { on: () => undefined, off: () => undefined } as IpcEndpoint;
    expect(() => new IpcChannel(notForked, { receives: [] })).toThrow(IpcClosedError);
  });
});

describe('IpcChannel typing', () => {
  it('only accepts its own Send types for emit/request and Receive types for on/handle', () => {
    const { parent } = connect();
    // @ts-expect-error 'pong' is a type the child sends, not the parent
    expect(() => parent.emit('pong')).not.toThrow();
    // @ts-expect-error 'ping' is a type the parent sends, so the parent does not listen for it
    parent.on('ping', () => {});
    expect(parent.emit('ping')).toBe(true);
  });
});
