import { CodedError } from '../errors.js';

/** The other side did not answer a request in time; the request is forgotten, a late reply is dropped. */
export class IpcTimeoutError extends CodedError {
  constructor(type: string, id: number, timeoutMs: number) {
    super('IPC_TIMEOUT', `request ${type} #${id} got no reply within ${timeoutMs} ms`);
  }
}

/** The channel was closed or the endpoint disconnected (the other process exited) before a reply came. */
export class IpcClosedError extends CodedError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('IPC_CLOSED', message, options);
  }
}

/** Sent back to a requester whose request type the receiver does not know or has no handler for. */
export class IpcNoHandlerError extends CodedError {
  constructor(type: string) {
    super('IPC_NO_HANDLER', `no handler for request ${type}`);
  }
}
