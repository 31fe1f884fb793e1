import type { LookupAddress } from 'node:dns';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors/index.js';
import { fetchMedia, type FetchMediaOptions } from '../../../src/messages/media.js';
import { freePort } from '../../support/net.js';

/*
 * fetchMedia against servers started here, on 127.0.0.1 (so guardPrivate is off unless a test is
 * about it). The raw TCP server writes answers an HTTP library would refuse to produce.
 */

const KB = 1024;
const PDF = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(50 * KB, 0xab)]);

let http: Server;
let base: string;
let raw: ReturnType<typeof createTcpServer>;
let rawBase: string;
/** Bytes the raw server managed to write per path, to see a download was cut short. */
const written = new Map<string, number>();
const sockets = new Set<Socket>();

beforeAll(async () => {
  http = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/files/report.pdf':
        res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': PDF.length });
        res.end(PDF);
        return;
      case '/chunked/photo.jpg':
        // No Content-Length: node sends it chunked.
        res.writeHead(200, { 'content-type': 'image/jpeg; charset=binary', 'content-disposition': 'attachment; filename="holiday.jpg"' });
        res.write(PDF.subarray(0, 1000));
        setTimeout(() => res.end(PDF.subarray(1000)), 20);
        return;
      case '/no-type':
        res.writeHead(200, { 'content-length': 3 });
        res.end('abc');
        return;
      case '/big-declared':
        res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': 10 * 1024 * KB });
        res.write(Buffer.alloc(KB));
        return; // never ends: the client must stop on the header alone
      case '/big-chunked': {
        res.writeHead(200, { 'content-type': 'video/mp4' });
        let sent = 0;
        const pump = () => {
          while (sent < 20 * 1024 * KB) {
            sent += 64 * KB;
            if (!res.write(Buffer.alloc(64 * KB))) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('close', () => written.set(url.pathname, sent));
        pump();
        return;
      }
      case '/empty':
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 0 });
        res.end();
        return;
      case '/missing':
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not here');
        return;
      case '/broken':
        res.writeHead(500);
        res.end('oops');
        return;
      case '/moved':
        res.writeHead(302, { location: `${base}/files/report.pdf` });
        res.end();
        return;
      case '/silent':
        return; // never answers
      case '/stalls':
        res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': 2 * KB });
        res.write(Buffer.alloc(KB)); // then nothing: the body never completes
        return;
      default:
        res.writeHead(500);
        res.end();
    }
  });
  http.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  raw = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', (request) => {
      const path = request.toString('latin1').split(' ')[1] ?? '/';
      if (path === '/lies-small') {
        // Claims 100 bytes, sends 5 MiB: only what the header promised may be taken as the body.
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/pdf\r\ncontent-length: 100\r\n\r\n');
        socket.end(Buffer.alloc(5 * 1024 * KB, 1));
      } else if (path === '/cut-short') {
        // Promises 1000 bytes, closes after 10.
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/pdf\r\ncontent-length: 1000\r\n\r\n');
        socket.end(Buffer.alloc(10, 3));
      } else if (path === '/until-close') {
        // Neither Content-Length nor chunked: the body runs until the server closes, 20 MiB here.
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/pdf\r\nconnection: close\r\n\r\n');
        let sent = 0;
        const pump = () => {
          while (sent < 20 * 1024 * KB && !socket.destroyed) {
            sent += 64 * KB;
            if (!socket.write(Buffer.alloc(64 * KB, 2))) return void socket.once('drain', pump);
          }
          socket.end();
        };
        socket.on('close', () => written.set(path, sent));
        pump();
      }
    });
  });
  await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
  rawBase = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => http.close(r));
  await new Promise((r) => raw.close(r));
});

const opts: FetchMediaOptions = { maxBytes: 1024 * KB, timeoutMs: 5_000, guardPrivate: false };

async function failure(url: string, options: Partial<FetchMediaOptions> = {}): Promise<AppError> {
  const err = await fetchMedia(url, { ...opts, ...options }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  const appError = err as AppError;
  // One line, no stack, no cause to leak through a careless logger or handler.
  expect(appError.message).not.toMatch(/\n|\bat .*\(/);
  expect(appError.cause).toBeUndefined();
  return appError;
}

describe('fetchMedia', () => {
  it('downloads a file with Content-Length: bytes, type and the name from the URL path', async () => {
    const media = await fetchMedia(`${base}/files/report.pdf`, opts);
    expect(media.data.equals(PDF)).toBe(true);
    expect(media.mimetype).toBe('application/pdf');
    expect(media.filename).toBe('report.pdf');
  });

  it('downloads a chunked file without Content-Length; the type loses its parameters, the name comes from Content-Disposition', async () => {
    const media = await fetchMedia(`${base}/chunked/photo.jpg?size=large`, opts);
    expect(media.data.equals(PDF)).toBe(true);
    expect(media.mimetype).toBe('image/jpeg');
    expect(media.filename).toBe('holiday.jpg');
  });

  it('answers a null type when the server gives none (the caller decides)', async () => {
    const media = await fetchMedia(`${base}/no-type`, opts);
    expect(media).toEqual({ data: Buffer.from('abc'), mimetype: null, filename: 'no-type' });
  });

  it('accepts a file of exactly maxBytes', async () => {
    expect((await fetchMedia(`${base}/files/report.pdf`, { ...opts, maxBytes: PDF.length })).data.length).toBe(PDF.length);
    expect((await failure(`${base}/files/report.pdf`, { maxBytes: PDF.length - 1 })).code).toBe('MEDIA_TOO_LARGE');
  });

  it('refuses a declared Content-Length over maxBytes at once, without waiting for the body', async () => {
    const started = Date.now();
    const err = await failure(`${base}/big-declared`);
    expect(err.code).toBe('MEDIA_TOO_LARGE');
    expect(err.status).toBe(413);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('stops a chunked body past maxBytes and closes the connection (far from all 20 MiB read)', async () => {
    const err = await failure(`${base}/big-chunked`);
    expect(err.code).toBe('MEDIA_TOO_LARGE');
    await expect.poll(() => written.get('/big-chunked'), { timeout: 5_000 }).toBeLessThan(10 * 1024 * KB);
  });

  it('stops a body that runs until the connection closes (no length at all) past maxBytes', async () => {
    const err = await failure(`${rawBase}/until-close`);
    expect(err.code).toBe('MEDIA_TOO_LARGE');
    await expect.poll(() => written.get('/until-close'), { timeout: 5_000 }).toBeLessThan(10 * 1024 * KB);
  });

  it('never takes more than a lying Content-Length promised: the 5 MiB behind "100" are not the file', async () => {
    expect((await fetchMedia(`${rawBase}/lies-small`, opts)).data).toEqual(Buffer.alloc(100, 1));
  });

  it('refuses a body cut short of its Content-Length rather than keep a truncated file', async () => {
    const err = await failure(`${rawBase}/cut-short`);
    expect(err.code).toBe('MEDIA_FETCH_FAILED');
    expect(err.message).toBe('the media URL did not deliver a file: connection reset (ECONNRESET)');
  });

  it.each([
    ['/missing', /answered HTTP 404$/],
    ['/broken', /answered HTTP 500$/],
    ['/moved', /answered HTTP 302, a redirect \(redirects are not followed/],
    ['/empty', /empty body/],
  ])('refuses %s as MEDIA_FETCH_FAILED (422) with the reason', async (path, reason) => {
    const err = await failure(`${base}${path}`);
    expect(err.code).toBe('MEDIA_FETCH_FAILED');
    expect(err.status).toBe(422);
    expect(err.message).toMatch(/^the media URL did not deliver a file: /);
    expect(err.message).toMatch(reason);
  });

  it('gives up on a server that never answers after timeoutMs', async () => {
    const started = Date.now();
    const err = await failure(`${base}/silent`, { timeoutMs: 300 });
    expect(err.code).toBe('MEDIA_FETCH_FAILED');
    expect(err.message).toContain('no complete answer within 300 ms');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('gives up on a body that stalls after timeoutMs', async () => {
    const err = await failure(`${base}/stalls`, { timeoutMs: 300 });
    expect(err.code).toBe('MEDIA_FETCH_FAILED');
    expect(err.message).toContain('no complete answer within 300 ms');
  });

  it('reports a refused connection', async () => {
    const err = await failure(`http://127.0.0.1:${await freePort()}/x.pdf`);
    expect(err.code).toBe('MEDIA_FETCH_FAILED');
    expect(err.message).toBe('the media URL did not deliver a file: connection refused (ECONNREFUSED)');
  });

  it.each(['ftp://127.0.0.1/x.pdf', 'file:///etc/passwd', 'not a url', 'data:application/pdf;base64,QQ=='])('refuses %j as VALIDATION_FAILED: http and https only', async (url) => {
    const err = await failure(url);
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toBe('media.url must be an http or https URL');
  });

  describe('with guardPrivate', () => {
    const resolveTo =
      (table: Record<string, string[]>) =>
      async (name: string): Promise<LookupAddress[]> =>
        (table[name] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

    it.each(['http://127.0.0.1', 'http://[::1]', 'http://169.254.169.254', 'http://10.1.2.3', 'http://[::ffff:127.0.0.1]'])(
      'refuses %s as MEDIA_URL_FORBIDDEN (422) before connecting',
      async (host) => {
        const port = host === 'http://127.0.0.1' ? `:${(http.address() as AddressInfo).port}` : '';
        const err = await failure(`${host}${port}/files/report.pdf`, { guardPrivate: true, resolve: resolveTo({}) });
        expect(err.code).toBe('MEDIA_URL_FORBIDDEN');
        expect(err.status).toBe(422);
        expect(err.message).toMatch(/^media\.url may not be fetched: .* is a (loopback|private|link-local|metadata) address$/);
      },
    );

    it('refuses a name that resolves to a loopback address, checked when the socket connects', async () => {
      const port = (http.address() as AddressInfo).port;
      const err = await failure(`http://media.test:${port}/files/report.pdf`, { guardPrivate: true, resolve: resolveTo({ 'media.test': ['127.0.0.1'] }) });
      expect(err.code).toBe('MEDIA_URL_FORBIDDEN');
      expect(err.message).toBe('media.url may not be fetched: media.test resolves to 127.0.0.1, which is a loopback address');
    });

    it('reports a name that does not resolve as a failed fetch, not a forbidden one', async () => {
      const err = await failure('http://gone.test/x.pdf', { guardPrivate: true, resolve: resolveTo({}) });
      expect(err.code).toBe('MEDIA_FETCH_FAILED');
      expect(err.message).toContain('gone.test does not resolve');
    });

    it('is what keeps 127.0.0.1 out: without it the same URL downloads', async () => {
      await expect(fetchMedia(`${base}/files/report.pdf`, { ...opts, guardPrivate: false })).resolves.toMatchObject({ filename: 'report.pdf' });
    });
  });
});
