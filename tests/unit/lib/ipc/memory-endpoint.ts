import { EventEmitter } from 'node:events';
import type { IpcEndpoint, IpcMessage } from '../../../../lib/ipc/index.js';

/**
 * One end of an in-memory IPC pair that behaves like Node's fork() channel where it matters:
 * messages go through JSON (Node's default 'json' serialization, which throws synchronously on a
 * BigInt), arrive asynchronously, and a send after disconnect fails through the callback.
 */
export class MemoryEndpoint extends EventEmitter implements IpcEndpoint {
  peer: MemoryEndpoint | null = null;
  connected = true;
  /** Makes the next send fail in its callback, like an EPIPE on a real channel. */
  failNextSend = false;

  send(message: IpcMessage, callback: (error: Error | null) => void): boolean {
    if (!this.connected || this.failNextSend) {
      this.failNextSend = false;
      const error = Object.assign(new Error('Channel closed'), { code: 'ERR_IPC_CHANNEL_CLOSED' });
      setImmediate(() => callback(error));
      return false;
    }
    const wire = JSON.stringify(message);
    setImmediate(() => {
      this.peer?.emit('message', JSON.parse(wire));
      callback(null);
    });
    return true;
  }

  /** Delivers anything to this end as if the peer had sent it, bypassing any channel on the peer. */
  inject(raw: unknown): void {
    this.emit('message', raw);
  }

  /** Both ends lose the channel, as when the child exits. */
  disconnect(): void {
    for (const end of [this, this.peer]) {
      if (!end?.connected) continue;
      end.connected = false;
      setImmediate(() => end.emit('disconnect'));
    }
  }
}

export function memoryPair(): [MemoryEndpoint, MemoryEndpoint] {
  const a = new MemoryEndpoint();
  const b = new MemoryEndpoint();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
