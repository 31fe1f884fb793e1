import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { coerceError } from '../../lib/errors.js';
import { ErrorCode } from '../errors/index.js';
import type { Logger } from '../logger/index.js';

/** An error meant for the client: status, stable code and a message safe to show. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// Codes of errors raised below the API and the status each one means to a client.
const STATUS_BY_CODE: Record<string, number> = {
  [ErrorCode.INVALID_INSTANCE_ID]: 400,
  [ErrorCode.INSTANCE_NOT_FOUND]: 404,
  [ErrorCode.INSTANCE_EXISTS]: 409,
  [ErrorCode.PATH_OUTSIDE_STORAGE]: 400,
  WORKER_NOT_RUNNING: 409,
  CLIENT_NOT_RUNNING: 409,
  DEMO_MODE_OFF: 404,
  FLEET_STOPPED: 503,
  IPC_TIMEOUT: 504,
  TIMEOUT: 504,
};

function describeZod(err: ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'invalid request';
  const where = issue.path.length > 0 ? issue.path.join('.') : 'body';
  return `${where}: ${issue.message}`;
}

/** Maps anything thrown to `{ error: { code, message } }`; unknown errors are a generic 500, detailed only in the log. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const e = err as { status?: number; type?: string; code?: string };
    let status = 500;
    let code = 'INTERNAL';
    let message = 'internal error';
    if (err instanceof HttpError) ({ status, code, message } = err);
    else if (err instanceof ZodError) [status, code, message] = [400, 'VALIDATION_FAILED', describeZod(err)];
    else if (e.type === 'entity.too.large') [status, code, message] = [413, 'BODY_TOO_LARGE', 'request body too large'];
    else if (e.type === 'entity.parse.failed') [status, code, message] = [400, 'INVALID_JSON', 'request body is not valid JSON'];
    else if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) [status, code, message] = [e.status, 'BAD_REQUEST', 'bad request'];
    else if (e.code && STATUS_BY_CODE[e.code]) [status, code, message] = [STATUS_BY_CODE[e.code]!, e.code, coerceError(err).message];
    if (status >= 500 && code === 'INTERNAL') log.error(`${req.method} ${req.path} failed`, { error: coerceError(err) });
    res.status(status).json({ error: { code, message } });
  };
}

export const notFound: RequestHandler = (_req, res) => {
  res.status(404).json({ error: { code: 'NOT_FOUND', message: 'no such route' } });
};
