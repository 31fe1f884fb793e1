import { CodedError } from '../../lib/errors.js';

/**
 * Every error code wa-fleet raises, anywhere, registered once with the HTTP status it means to an
 * API client and one line of meaning. One code per meaning: clients branch on codes, so two codes
 * for one thing (or one code for two) is a bug. Codes that only ever end a process (config,
 * migrations) carry 500: they cannot reach a client. A test walks this table and the routes.
 */
export const ERRORS = {
  // requests
  VALIDATION_FAILED: { status: 400, meaning: 'a parameter or body field is missing or invalid' },
  INVALID_JSON: { status: 400, meaning: 'the request body is not valid JSON' },
  BAD_REQUEST: { status: 400, meaning: 'the request could not be read' },
  INVALID_INSTANCE_ID: { status: 400, meaning: 'an instance id must match ^[A-Za-z0-9_-]{1,64}$' },
  PATH_OUTSIDE_STORAGE: { status: 400, meaning: 'a session path would leave the session storage root' },
  UNAUTHORIZED: { status: 401, meaning: 'missing or wrong X-API-Key (or stream token)' },
  FORBIDDEN_SCOPE: { status: 403, meaning: "the key is an instance's own key: it reaches that instance only, not the fleet, other instances or key management" },
  NOT_FOUND: { status: 404, meaning: 'no such route' },
  INSTANCE_NOT_FOUND: { status: 404, meaning: 'no instance with that id' },
  MESSAGE_NOT_FOUND: { status: 404, meaning: 'the instance has no message with that id' },
  WEBHOOK_NOT_DEAD: { status: 404, meaning: 'no dead-lettered webhook with that id' },
  KEY_NOT_FOUND: { status: 404, meaning: 'the instance has no API key with that id' },
  NODE_NOT_FOUND: { status: 404, meaning: 'no node with that id has ever run against this database' },
  DEMO_MODE_OFF: { status: 404, meaning: 'simulation needs demo mode (WA_FLEET_FAKE_WEB=true)' },
  INSTANCE_EXISTS: { status: 409, meaning: 'an instance with that id already exists' },
  ALREADY_CONNECTED: { status: 409, meaning: 'the instance is connected; log it out first to link another phone' },
  WORKER_NOT_RUNNING: { status: 409, meaning: 'the instance has no running worker or client to ask' },
  INSTANCE_LIMIT: { status: 409, meaning: 'MAX_INSTANCES instances exist already' },
  INSTANCE_DISABLED: { status: 409, meaning: 'the instance is disabled; enable it first' },
  WEBHOOK_NOT_SET: { status: 409, meaning: 'the instance has no webhook URL; set one first' },
  NOT_LINKED: { status: 409, meaning: 'the instance has no linked phone yet; scan its QR first, then send' },
  CLUSTER_OFF: { status: 409, meaning: 'nodes, leases and draining need CLUSTER=on' },
  LEASE_LOST: { status: 409, meaning: "this node no longer holds the instance's lease: the write was refused (fencing); another node runs it now" },
  IDEMPOTENCY_CONFLICT: { status: 422, meaning: 'the Idempotency-Key was used before with a different request' },
  INSTANCE_BLOCKED: { status: 409, meaning: 'the instance waits for a human after a refusal (LOGOUT, BANNED …); restart or enable it to try again' },
  SEND_REJECTED: { status: 422, meaning: 'WhatsApp Web refused the message (no such chat, or the quoted message is gone)' },
  MEDIA_NOT_AVAILABLE: { status: 404, meaning: 'the message has no media the session can still download' },
  WEBHOOK_URL_FORBIDDEN: { status: 422, meaning: "an instance's own key may not point its webhook at a loopback, private, link-local or metadata address, or a name that resolves to one" },
  BODY_TOO_LARGE: { status: 413, meaning: 'the request body is over API_BODY_LIMIT_KB' },
  MEDIA_TOO_LARGE: { status: 413, meaning: 'the media is over MESSAGE_MEDIA_MAX_MB' },
  MEDIA_TYPE_UNSUPPORTED: { status: 415, meaning: 'the media type is not one wa-fleet sends (see the README)' },
  MEDIA_URL_FORBIDDEN: { status: 422, meaning: "an instance's own key may not fetch media from a loopback, private, link-local or metadata address" },
  MEDIA_FETCH_FAILED: { status: 422, meaning: 'the media URL did not deliver a file (not 2xx, timeout, refused, redirect)' },
  TOO_MANY_ATTEMPTS: { status: 429, meaning: 'too many failed API key attempts from this address' },
  TOO_MANY_STREAMS: { status: 429, meaning: 'SSE_MAX_STREAMS event streams are open; try again later' },
  QUEUE_FULL: { status: 429, meaning: 'MESSAGE_QUEUE_MAX messages of the instance are waiting; try again once some are sent' },
  PAIRING_LIMIT: { status: 429, meaning: 'too many pairing codes for this instance in the window' },
  // the supervisor, its workers and its database
  INTERNAL: { status: 500, meaning: 'an unexpected error; details are in the log only' },
  SHUTTING_DOWN: { status: 503, meaning: 'the supervisor is shutting down; writes are refused' },
  DATABASE_UNAVAILABLE: { status: 503, meaning: 'the database is unreachable; the change was refused, not recorded' },
  INSTANCE_NOT_PLACED: { status: 503, meaning: 'no node runs the instance at this moment (it is being placed or moved); try again in a few seconds' },
  OWNER_UNREACHABLE: { status: 503, meaning: 'the node that runs the instance did not answer the forwarded request; try again' },
  QR_NOT_READY: { status: 503, meaning: 'the worker has not shown a QR yet' },
  WORKER_START_FAILED: { status: 503, meaning: 'a worker failed to start' },
  IPC_CLOSED: { status: 503, meaning: 'the worker went away before it answered' },
  IPC_NO_HANDLER: { status: 500, meaning: 'the worker does not know the request' },
  IPC_TIMEOUT: { status: 504, meaning: 'the worker did not answer in time' },
  TIMEOUT: { status: 504, meaning: 'an operation did not finish in time' },
  // webhook deliveries (recorded on the outbox row, never an API answer)
  WEBHOOK_REJECTED: { status: 502, meaning: 'the webhook receiver answered with a status other than 2xx' },
  WEBHOOK_UNREACHABLE: { status: 502, meaning: 'the webhook receiver could not be reached' },
  WEBHOOK_TIMEOUT: { status: 504, meaning: 'the webhook receiver did not answer in time' },
  // startup only
  CONFIG_INVALID: { status: 500, meaning: 'a setting is invalid (startup)' },
  MIGRATION_UNKNOWN: { status: 500, meaning: 'the database has a migration this version does not know (startup)' },
  MIGRATION_FAILED: { status: 500, meaning: 'a migration failed (startup)' },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ErrorCode = keyof typeof ERRORS;
export const ErrorCode = Object.freeze(Object.fromEntries(Object.keys(ERRORS).map((c) => [c, c]))) as { readonly [C in ErrorCode]: C };

/** The registered status of `code`, or null when it is not ours (an own property: `constructor` is no code). */
export function statusOf(code: unknown): number | null {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code) ? ERRORS[code as ErrorCode].status : null;
}

/** An error a client may see: a registered code and a message safe to show. */
export class AppError extends CodedError {
  declare readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string = ERRORS[code].meaning, options?: { cause?: unknown }) {
    super(code, message, options);
  }

  get status(): number {
    return ERRORS[this.code].status;
  }
}

export class ConfigError extends AppError {
  constructor(
    readonly setting: string,
    problem: string,
  ) {
    super('CONFIG_INVALID', `${setting}: ${problem}`);
  }
}

export class MigrationError extends AppError {
  constructor(code: 'MIGRATION_UNKNOWN' | 'MIGRATION_FAILED', message: string, cause?: unknown) {
    super(code, message, { cause });
  }
}

export class InstanceNotFoundError extends AppError {
  constructor(readonly instanceId: string) {
    super('INSTANCE_NOT_FOUND', `instance "${instanceId}" does not exist`);
  }
}

export class InstanceExistsError extends AppError {
  constructor(readonly instanceId: string) {
    super('INSTANCE_EXISTS', `instance "${instanceId}" already exists`);
  }
}

export class InvalidInstanceIdError extends AppError {
  constructor() {
    super('INVALID_INSTANCE_ID');
  }
}

export class WorkerNotRunningError extends AppError {
  constructor(id: string) {
    super('WORKER_NOT_RUNNING', `instance "${id}" has no running worker`);
  }
}

export class DatabaseUnavailableError extends AppError {
  constructor() {
    super('DATABASE_UNAVAILABLE');
  }
}

export class ShuttingDownError extends AppError {
  constructor() {
    super('SHUTTING_DOWN');
  }
}
