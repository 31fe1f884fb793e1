import { types } from 'node:util';

/** The part of an error that survives a process boundary (IPC, JSON logs, the database). */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
}

/**
 * Base for the app's typed errors: `code` is the stable, machine-readable identity callers branch
 * on (messages are for humans and may change). `name` follows the subclass so logs show which one.
 */
export class CodedError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** Real Error instances, including ones from another realm (vm contexts) where `instanceof` lies. */
function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // Circular structures and BigInts cannot be stringified as JSON.
    return String(value);
  }
}

/** A string code as is, a numeric one (errno, HTTP status) as its decimal text, anything else dropped. */
function codeOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/**
 * Anything thrown becomes an Error, so `catch (e)` code can rely on `.message` and `.stack`.
 * Errors are returned untouched; other values are wrapped with the original kept as `cause`,
 * and a plain object's `message`/`name`/`code` are carried over (libraries do throw such objects).
 */
export function coerceError(e: unknown): Error & { code?: string } {
  if (isError(e)) return e;
  if (typeof e === 'object' && e !== null) {
    const fields = e as { message?: unknown; name?: unknown; code?: unknown };
    const message = typeof fields.message === 'string' ? fields.message : `non-error value thrown: ${describeValue(e)}`;
    const error: Error & { code?: string } = new Error(message, { cause: e });
    if (typeof fields.name === 'string' && fields.name !== '') error.name = fields.name;
    const code = codeOf(fields.code);
    if (code !== undefined) error.code = code;
    return error;
  }
  return new Error(describeValue(e), { cause: e });
}

export function serializeError(e: unknown): SerializedError {
  const error = coerceError(e);
  const serialized: SerializedError = { name: error.name, message: error.message };
  const code = codeOf((error as { code?: unknown }).code);
  if (code !== undefined) serialized.code = code;
  return serialized;
}

/** Rebuilds an Error on the receiving side; the stack is local because the remote one means nothing here. */
export function deserializeError(s: SerializedError): Error & { code?: string } {
  const error: Error & { code?: string } = new Error(s.message);
  error.name = s.name;
  if (s.code !== undefined) error.code = s.code;
  return error;
}

export function isSerializedError(value: unknown): value is SerializedError {
  if (typeof value !== 'object' || value === null) return false;
  const fields = value as Record<string, unknown>;
  return (
    typeof fields.name === 'string' &&
    typeof fields.message === 'string' &&
    (fields.code === undefined || typeof fields.code === 'string')
  );
}
