import type { AddressInfo } from 'node:net';
import { get, type Server } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedJson } from '../../../src/api/shared-json.js';

describe('SharedJson: the bytes and headers res.json gives, rendered once', () => {
  const value = { database: 'up', instances: [{ id: 'a', status: 'CONNECTED', n: 1.5, none: null, text: 'é <b>' }] };
  const shared = new SharedJson(value);
  let server: Server;
  let base: string;

  beforeAll(async () => {
    const app = express();
    app.get('/json', (_req, res) => void res.json(value));
    app.get('/shared', (_req, res) => shared.send(res));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers with the same body, content type, length and ETag as res.json, every time', async () => {
    const plain = await fetch(`${base}/json`);
    const plainBody = await plain.text();
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${base}/shared`);
      expect(await res.text()).toBe(plainBody);
      for (const name of ['content-type', 'content-length', 'etag']) expect(res.headers.get(name), name).toBe(plain.headers.get(name));
    }
  });

  it('answers 304 to a matching If-None-Match, as res.json does', async () => {
    const etag = (await fetch(`${base}/shared`)).headers.get('etag')!;
    expect(etag).toBeTruthy();
    for (const path of ['/json', '/shared']) {
      // node:http, not fetch: fetch sends its own cache headers, which make express answer 200.
      const status = await new Promise<number | undefined>((resolve, reject) => {
        get(`${base}${path}`, { headers: { 'if-none-match': etag } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        }).on('error', reject);
      });
      expect(status, path).toBe(304);
    }
  });
});
