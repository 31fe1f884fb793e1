import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { coerceError } from '../../lib/errors.js';
import { ERRORS, statusOf, type ErrorCode } from '../errors/index.js';
import type { Logger } from '../logger/index.js';

function describeZod(err: ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'invalid request';
  const where = issue.path.length > 0 ? issue.path.join('.') : 'body';
  return `${where}: ${issue.message}`;
}

/** What the client is told: a registered code, its status, and a message safe to show. */
function classify(err: unknown): { status: number; code: ErrorCode; message: string } {
  const e = err as { type?: string; status?: number; code?: unknown };
  if (err instanceof ZodError) return { status: 400, code: 'VALIDATION_FAILED', message: describeZod(err) };
  // express's body parser
  if (e.type === 'entity.too.large') return { status: 413, code: 'BODY_TOO_LARGE', message: 'request body too large' };
  if (e.type === 'entity.parse.failed') return { status: 400, code: 'INVALID_JSON', message: 'request body is not valid JSON' };
  const status = statusOf(e.code);
  if (status !== null && status < 500 && e.code !== 'INTERNAL') return { status, code: e.code as ErrorCode, message: coerceError(err).message };
  // 5xx codes tell the client what happened in their own words, never our internals.
  if (status !== null && e.code !== 'INTERNAL') return { status, code: e.code as ErrorCode, message: ERRORS[e.code as ErrorCode].meaning };
  // Another 4xx from express or a parser (an unsupported charset, …): the request could not be read.
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return { status: ERRORS.BAD_REQUEST.status, code: 'BAD_REQUEST', message: 'bad request' };
  return { status: 500, code: 'INTERNAL', message: 'internal error' };
}

/** Maps anything thrown to `{ error: { code, message } }`; unknown errors are a generic 500, detailed only in the log. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const { status, code, message } = classify(err);
    if (status >= 500) log.error(`${req.method} ${req.path} failed: ${code}`, { error: coerceError(err) });
    if (code === 'SHUTTING_DOWN' || code === 'DATABASE_UNAVAILABLE') res.setHeader('Retry-After', '10');
    res.status(status).json({ error: { code, message } });
  };
}

export const notFound: RequestHandler = (_req, res) => {
  res.status(404).json({ error: { code: 'NOT_FOUND', message: ERRORS.NOT_FOUND.meaning } });
};
