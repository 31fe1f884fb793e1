import { isSerializedError, type SerializedError } from '../errors.js';

/**
 * The one shape that crosses the channel. `type` is one of the sender's enum values; a reply
 * repeats its request's type (for logs) and is matched by `id`, never by type.
 */
export type IpcMessage =
  | { kind: 'event'; type: string; payload?: unknown }
  | { kind: 'request'; type: string; id: number; payload?: unknown }
  | { kind: 'reply'; type: string; id: number; payload?: unknown; error?: SerializedError };

export type ParsedMessage = { ok: true; message: IpcMessage } | { ok: false; reason: string };

/**
 * Checks the shape of whatever arrived. The other side may be another version of the program or
 * something else entirely (IPC is open to any code in the child), so nothing is trusted.
 */
export function parseMessage(raw: unknown): ParsedMessage {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: 'not an object' };
  }
  const fields = raw as Record<string, unknown>;
  const { kind, type, id, payload, error } = fields;
  if (typeof type !== 'string' || type === '') return { ok: false, reason: 'type is not a non-empty string' };
  if (kind === 'event') return { ok: true, message: { kind, type, payload } };
  if (kind !== 'request' && kind !== 'reply') return { ok: false, reason: `unknown kind ${JSON.stringify(kind)}` };
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    return { ok: false, reason: `${kind} id is not a positive integer` };
  }
  if (kind === 'request') return { ok: true, message: { kind, type, id, payload } };
  if (error === undefined) return { ok: true, message: { kind, type, id, payload } };
  if (!isSerializedError(error)) return { ok: false, reason: 'reply error is not a serialized error' };
  return { ok: true, message: { kind, type, id, error } };
}
