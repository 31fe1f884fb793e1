import { coerceError, deserializeError, serializeError } from '../errors.js';
import { IpcClosedError, IpcNoHandlerError, IpcTimeoutError } from './errors.js';
import { parseMessage, type IpcMessage } from './message.js';

/**
 * What the channel needs from its transport. `process` in a forked child and the `ChildProcess`
 * returned by fork() in the parent both fit; `send` is optional because `process.send` is
 * undefined in a process that was not forked with an IPC channel.
 */
export interface IpcEndpoint {
  send?(message: IpcMessage, callback: (error: Error | null) => void): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'disconnect', listener: () => void): unknown;
  readonly connected?: boolean;
}

export interface IpcChannelOptions<Receive extends string> {
  /** Every message type this side accepts; anything else is dropped and counted. */
  receives: readonly Receive[];
  /** Why a message was dropped, e.g. to log a protocol mismatch between parent and child versions. */
  onDrop?: (reason: string, message: unknown) => void;
  /** A listener threw; the other listeners and the channel carry on regardless. */
  onListenerError?: (error: Error, type: Receive) => void;
}

export interface IpcChannelStats {
  sent: number;
  received: number;
  dropped: number;
  pending: number;
  sendFailures: number;
  listenerErrors: number;
}

type Listener = (payload: unknown) => void;
type Handler = (payload: unknown) => unknown;

interface PendingRequest {
  type: string;
  resolve: (payload: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A typed parent<->child channel: fire-and-forget events, and requests answered by handlers on
 * the other side. Send and Receive are the two sides' message-type enums (what this side sends,
 * what it accepts). Payloads are `unknown` on arrival: validate them where they are used.
 */
export class IpcChannel<Send extends string, Receive extends string> {
  readonly #endpoint: IpcEndpoint;
  readonly #send: NonNullable<IpcEndpoint['send']>;
  readonly #receives: ReadonlySet<string>;
  readonly #opts: IpcChannelOptions<Receive>;
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #handlers = new Map<string, Handler>();
  readonly #pending = new Map<number, PendingRequest>();
  #nextId = 1;
  #closed = false;
  #counts = { sent: 0, received: 0, dropped: 0, sendFailures: 0, listenerErrors: 0 };

  constructor(endpoint: IpcEndpoint, opts: IpcChannelOptions<Receive>) {
    if (typeof endpoint.send !== 'function') {
      throw new IpcClosedError('endpoint has no IPC channel (was this process started with fork()?)');
    }
    this.#endpoint = endpoint;
    this.#send = endpoint.send.bind(endpoint);
    this.#receives = new Set(opts.receives);
    this.#opts = opts;
    endpoint.on('message', this.#onMessage);
    endpoint.on('disconnect', this.#onDisconnect);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends an event; false when the channel is already closed and nothing was sent. */
  emit(type: Send, payload?: unknown): boolean {
    return this.#write({ kind: 'event', type, payload });
  }

  /**
   * Asks the other side's handler for `type`. Rejects with IpcTimeoutError after `timeoutMs`,
   * IpcClosedError if the channel closes first, or the handler's own error (name/message/code).
   * The resolved value is whatever the handler returned: `R` is an assertion, not a check.
   */
  request<R = unknown>(type: Send, payload: unknown, timeoutMs: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
        throw new RangeError(`request ${type}: timeoutMs must be a finite number > 0, got ${timeoutMs}`);
      }
      if (this.#closed) throw new IpcClosedError(`request ${type} not sent: channel closed`);
      const id = this.#nextId++;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new IpcTimeoutError(type, id, timeoutMs));
      }, timeoutMs);
      this.#pending.set(id, { type, resolve: resolve as (payload: unknown) => void, reject, timer });
      try {
        const sent = this.#write({ kind: 'request', type, id, payload }, (error) =>
          this.#fail(id, new IpcClosedError(`request ${type} #${id} could not be sent`, { cause: error })),
        );
        if (!sent) this.#fail(id, new IpcClosedError(`request ${type} not sent: endpoint disconnected`));
      } catch (error) {
        // The payload could not be serialized; the request never left.
        this.#fail(id, coerceError(error));
      }
    });
  }

  /** Answers requests of `type` with the handler's result (or its error). One handler per type. */
  handle(type: Receive, handler: (payload: unknown) => unknown): () => void {
    if (this.#handlers.has(type)) throw new Error(`a handler for request ${type} is already registered`);
    this.#handlers.set(type, handler);
    return () => {
      if (this.#handlers.get(type) === handler) this.#handlers.delete(type);
    };
  }

  /** Listens for events of `type`; returns the unsubscribe function. */
  on(type: Receive, listener: (payload: unknown) => void): () => void {
    const listeners = this.#listeners.get(type) ?? new Set<Listener>();
    listeners.add(listener);
    this.#listeners.set(type, listeners);
    return () => {
      listeners.delete(listener);
    };
  }

  stats(): IpcChannelStats {
    return { ...this.#counts, pending: this.#pending.size };
  }

  /** Detaches from the endpoint (which stays open: the channel does not own it) and rejects pending requests. */
  close(): void {
    this.#shutdown('channel closed');
  }

  #onMessage = (raw: unknown): void => {
    this.#counts.received++;
    const parsed = parseMessage(raw);
    if (!parsed.ok) return this.#drop(`malformed message: ${parsed.reason}`, raw);
    const message = parsed.message;
    if (message.kind === 'reply') return this.#settle(message, raw);
    if (!this.#receives.has(message.type)) {
      this.#drop(`unknown ${message.kind} type ${message.type}`, raw);
      // A requester would otherwise wait for its timeout to learn the same thing.
      if (message.kind === 'request') void this.#answer(message.type, message.id, undefined);
      return;
    }
    if (message.kind === 'event') return this.#deliver(message.type as Receive, message.payload);
    void this.#answer(message.type, message.id, message.payload);
  };

  #onDisconnect = (): void => {
    this.#shutdown('endpoint disconnected');
  };

  #deliver(type: Receive, payload: unknown): void {
    for (const listener of [...(this.#listeners.get(type) ?? [])]) {
      try {
        listener(payload);
      } catch (error) {
        this.#counts.listenerErrors++;
        this.#opts.onListenerError?.(coerceError(error), type);
      }
    }
  }

  async #answer(type: string, id: number, payload: unknown): Promise<void> {
    let reply: IpcMessage;
    try {
      const handler = this.#handlers.get(type);
      if (!handler) throw new IpcNoHandlerError(type);
      reply = { kind: 'reply', type, id, payload: await handler(payload) };
    } catch (error) {
      reply = { kind: 'reply', type, id, error: serializeError(error) };
    }
    try {
      this.#write(reply);
    } catch (error) {
      // The handler's result could not be serialized: the requester still deserves an answer.
      this.#write({ kind: 'reply', type, id, error: serializeError(error) });
    }
  }

  #settle(reply: Extract<IpcMessage, { kind: 'reply' }>, raw: unknown): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return this.#drop(`reply to unknown request #${reply.id} (timed out or never sent)`, raw);
    this.#pending.delete(reply.id);
    clearTimeout(pending.timer);
    if (reply.error) pending.reject(deserializeError(reply.error));
    else pending.resolve(reply.payload);
  }

  #fail(id: number, error: Error): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    pending.reject(error);
  }

  /** False when closed. Serialization errors throw synchronously; transport errors arrive in onFailure. */
  #write(message: IpcMessage, onFailure?: (error: Error) => void): boolean {
    // An endpoint that disconnected before this channel was built never emits 'disconnect' for it.
    if (this.#endpoint.connected === false) this.#shutdown('endpoint disconnected');
    if (this.#closed) return false;
    this.#send(message, (error) => {
      if (!error) return;
      this.#counts.sendFailures++;
      onFailure?.(error);
    });
    this.#counts.sent++;
    return true;
  }

  #drop(reason: string, raw: unknown): void {
    this.#counts.dropped++;
    this.#opts.onDrop?.(reason, raw);
  }

  #shutdown(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#endpoint.off('message', this.#onMessage);
    this.#endpoint.off('disconnect', this.#onDisconnect);
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new IpcClosedError(`request ${pending.type} #${id} abandoned: ${reason}`));
    }
    this.#pending.clear();
  }
}
