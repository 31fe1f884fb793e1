import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANSWERED_BY_HEADER, FORWARDED_HEADER, forwardToOwner } from '../../../src/api/forward.js';
import { errorHandler } from '../../../src/api/http-errors.js';
import { capturingLogger } from '../../support/logger.js';

const servers: Server[] = [];
const listen = (app: express.Express) =>
  new Promise<string>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`));
    servers.push(s);
  });

let front: string;
const logs = capturingLogger({ level: 'debug', format: 'json' });

// The owner: answers for its instances, and reads a POST's body to the end before answering.
beforeAll(async () => {
  const owner = express();
  owner.get('/api/instance/:id/details', (req, res) => void res.setHeader(ANSWERED_BY_HEADER, 'owner').json({ id: req.params.id, forwardedBy: req.get(FORWARDED_HEADER) ?? null }));
  owner.post('/api/instance/:id/messages', (req, res) => {
    let n = 0;
    req.on('data', (chunk: Buffer) => (n += chunk.length));
    req.on('end', () => {
      res.status(202).json({ bytes: n });
    });
  });
  const ownerUrl = await listen(owner);
  const app = express();
  app.use(
    forwardToOwner({
      nodeId: 'front',
      ownerOf: async (id) => (id === 'elsewhere' ? { node: 'owner', url: ownerUrl } : id === 'gone' ? { node: 'dead', url: 'http://127.0.0.1:9' } : null),
      log: logs.log,
    }),
  );
  app.get('/api/instance/:id/details', (req, res) => void res.json({ id: req.params.id, answeredHere: true }));
  app.use(errorHandler(logs.log));
  front = await listen(app);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('forwarding to the owner', () => {
  it("passes a request about another node's instance to it and answers with what it answered, naming the node", async () => {
    const res = await fetch(`${front}/api/instance/elsewhere/details`);
    expect(res.status).toBe(200);
    expect(res.headers.get(ANSWERED_BY_HEADER)).toBe('owner');
    expect(await res.json()).toEqual({ id: 'elsewhere', forwardedBy: 'front' });
  });

  it('answers itself for an instance no node holds, and for a request another node already forwarded (one hop, never a loop)', async () => {
    expect(await (await fetch(`${front}/api/instance/free/details`)).json()).toEqual({ id: 'free', answeredHere: true });
    const res = await fetch(`${front}/api/instance/elsewhere/details`, { headers: { [FORWARDED_HEADER]: 'another' } });
    expect(await res.json()).toEqual({ id: 'elsewhere', answeredHere: true });
  });

  it("an owner that does not answer is 503 OWNER_UNREACHABLE to the client, and logged with the owner's address", async () => {
    const before = logs.output().length;
    const res = await fetch(`${front}/api/instance/gone/details`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('OWNER_UNREACHABLE');
    const logged = logs.output().slice(before);
    expect(logged).toContain('failed: OWNER_UNREACHABLE');
    expect(logged).toContain('(127.0.0.1:9) did not answer');
  });

  it('a client that hangs up in the middle of its body is not blamed on the owner: no OWNER_UNREACHABLE, no error logged', async () => {
    const before = logs.output().length;
    await new Promise<void>((resolve) => {
      const req = request(`${front}/api/instance/elsewhere/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '100000' } });
      req.on('error', () => resolve());
      req.write('{"to":"15551234567","text":"');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
    // The front notices the hang-up, and the aborted forward, within moments.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const logged = logs.output().slice(before);
    expect(logged).not.toContain('OWNER_UNREACHABLE');
    expect(logged).not.toContain('"level":"error"');
    expect(logged).toContain('the client went away');
  });
});
