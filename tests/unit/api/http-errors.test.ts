import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CodedError } from '../../../lib/errors.js';
import { errorHandler, notFound } from '../../../src/api/http-errors.js';
import { AppError, ERRORS, InstanceNotFoundError } from '../../../src/errors/index.js';
import { capturingLogger } from '../../support/logger.js';

const SECRET = 'ECONNREFUSED 10.0.0.7:3306 password=hunter2 at /srv/wa-fleet/src/db/pool.ts:42';

/** Each route throws one kind of error; the handler under test answers for all of them. */
const THROWERS: Record<string, () => unknown> = {
  zod: () => z.object({ name: z.string() }).parse({}),
  'app-4xx': () => new InstanceNotFoundError('sales-01'),
  'app-409': () => new AppError('ALREADY_CONNECTED'),
  'app-5xx': () => new AppError('IPC_TIMEOUT', `request ping timed out: ${SECRET}`),
  'app-503': () => new AppError('DATABASE_UNAVAILABLE', SECRET),
  'app-internal': () => new AppError('INTERNAL', SECRET),
  'coded-5xx': () => new CodedError('TIMEOUT', `evaluate timed out: ${SECRET}`),
  'code-constructor': () => Object.assign(new Error(SECRET), { code: 'constructor' }),
  'code-toString': () => Object.assign(new Error(SECRET), { code: 'toString' }),
  'code-hasOwnProperty': () => Object.assign(new Error(SECRET), { code: 'hasOwnProperty' }),
  'code-proto': () => Object.assign(new Error(SECRET), { code: '__proto__' }),
  'code-unknown': () => Object.assign(new Error(SECRET), { code: 'ER_NO_SUCH_TABLE' }),
  unknown: () => new TypeError(`Cannot read properties of undefined (reading 'x') ${SECRET}`),
  'not-an-error': () => SECRET,
  'plain-object-4xx': () => ({ code: 'INSTANCE_NOT_FOUND', message: 'instance "x" does not exist' }),
  'status-400': () => Object.assign(new Error(SECRET), { status: 400, type: 'request.aborted' }),
  'status-503-no-code': () => Object.assign(new Error(SECRET), { status: 503 }),
};

let server: Server;
let base: string;
const { log, output } = capturingLogger();

beforeAll(async () => {
  const app = express();
  app.use(express.json({ limit: '1kb' }));
  app.all('/throw/:kind', (req) => {
    throw THROWERS[req.params.kind as string]!();
  });
  app.post('/echo', (req, res) => void res.json(req.body));
  app.use(notFound);
  app.use(errorHandler(log));
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function call(path: string, init?: RequestInit): Promise<{ status: number; body: { error: { code: string; message: string } }; headers: Headers; text: string }> {
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), headers: res.headers, text };
}

describe('errorHandler', () => {
  it('maps a ZodError to 400 VALIDATION_FAILED naming the field', async () => {
    const r = await call('/throw/zod');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION_FAILED');
    expect(r.body.error.message).toMatch(/^name: /);
  });

  it('maps an AppError to its registered status, with its own (safe) message', async () => {
    const nf = await call('/throw/app-4xx');
    expect(nf.status).toBe(404);
    expect(nf.body).toEqual({ error: { code: 'INSTANCE_NOT_FOUND', message: 'instance "sales-01" does not exist' } });
    const conflict = await call('/throw/app-409');
    expect(conflict.status).toBe(ERRORS.ALREADY_CONNECTED.status);
    expect(conflict.body).toEqual({ error: { code: 'ALREADY_CONNECTED', message: ERRORS.ALREADY_CONNECTED.meaning } });
  });

  it('a registered 4xx code on a plain thrown object keeps its status', async () => {
    const r = await call('/throw/plain-object-4xx');
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('INSTANCE_NOT_FOUND');
  });

  it('a 5xx registered code sends its registry meaning, not the raw message', async () => {
    const r = await call('/throw/app-5xx');
    expect(r.status).toBe(504);
    expect(r.body).toEqual({ error: { code: 'IPC_TIMEOUT', message: ERRORS.IPC_TIMEOUT.meaning } });
    expect(r.text).not.toContain('hunter2');

    const coded = await call('/throw/coded-5xx');
    expect(coded.status).toBe(504);
    expect(coded.body).toEqual({ error: { code: 'TIMEOUT', message: ERRORS.TIMEOUT.meaning } });
    expect(coded.text).not.toContain('hunter2');
  });

  it('DATABASE_UNAVAILABLE is a 503 with Retry-After and its meaning only', async () => {
    const r = await call('/throw/app-503');
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('10');
    expect(r.body).toEqual({ error: { code: 'DATABASE_UNAVAILABLE', message: ERRORS.DATABASE_UNAVAILABLE.meaning } });
  });

  it('an AppError INTERNAL is the generic 500', async () => {
    const r = await call('/throw/app-internal');
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', 'proto'])('a code that is no own property of the registry (%s) is a 500 INTERNAL', async (kind) => {
    const r = await call(`/throw/code-${kind}`);
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
    expect(r.text).not.toContain('hunter2');
  });

  it.each(['unknown', 'code-unknown', 'not-an-error', 'status-503-no-code'])('an unknown error (%s) is a 500 INTERNAL with the generic message, no internals leaked', async (kind) => {
    const r = await call(`/throw/${kind}`);
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
    for (const leak of ['hunter2', '10.0.0.7', '/srv/wa-fleet', 'Cannot read', 'ER_NO_SUCH_TABLE']) expect(r.text).not.toContain(leak);
  });

  it('details of a 5xx go to the log only', async () => {
    await call('/throw/unknown');
    expect(output()).toContain('GET /throw/unknown failed: INTERNAL');
  });

  it('an error with a 4xx status and no code of ours is a 400 BAD_REQUEST with a generic message', async () => {
    const r = await call('/throw/status-400');
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: { code: 'BAD_REQUEST', message: 'bad request' } });
    expect(r.text).not.toContain('hunter2');
  });

  it("maps the body parser's errors: invalid JSON → 400 INVALID_JSON, too large → 413 BODY_TOO_LARGE", async () => {
    const bad = await call('/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_JSON');
    const big = await call('/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 'x'.repeat(4_096) }) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('BODY_TOO_LARGE');
  });

  it('passes the error on when the headers are already sent', () => {
    const err = new Error('late');
    let passed: unknown;
    const res = { headersSent: true, status: () => expect.unreachable('no second answer') } as unknown as Response;
    errorHandler(log)(err, { method: 'GET', path: '/x' } as Request, res, ((e: unknown) => (passed = e)) as NextFunction);
    expect(passed).toBe(err);
  });
});

describe('notFound', () => {
  it('answers 404 NOT_FOUND with the registry meaning', async () => {
    const r = await call('/nowhere');
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: { code: 'NOT_FOUND', message: ERRORS.NOT_FOUND.meaning } });
  });
});
