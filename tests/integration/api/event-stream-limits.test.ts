import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandInApi, type StandInApi } from '../../support/api.js';

let setup: StandInApi;

beforeAll(async () => {
  setup = await startStandInApi({ overrides: { SSE_MAX_STREAMS: '2', SSE_TOKEN_TTL_MS: '1000' } });
});
afterAll(() => setup?.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function token(): Promise<string> {
  const { status, json } = await setup.api.call('POST', '/api/events/token');
  expect(status).toBe(200);
  return json.token;
}

/** Opens a stream and waits for its first bytes; `close` aborts it. */
async function openStream(query = '', headers: Record<string, string> = { 'x-api-key': setup.api.key }) {
  const controller = new AbortController();
  const res = await fetch(`${setup.api.base}/api/events${query}`, { headers, signal: controller.signal });
  if (res.status === 200) await res.body!.getReader().read();
  return { res, close: () => controller.abort() };
}

async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await sleep(20);
  expect(check()).toBe(true);
}

describe('event stream limits', () => {
  it('a stream token opens one stream: used again it is refused like a wrong key', async () => {
    const t = await token();
    const first = await openStream(`?token=${t}`, {});
    expect(first.res.status).toBe(200);
    first.close();
    const again = await fetch(`${setup.api.base}/api/events?token=${t}`);
    expect(again.status).toBe(401);
    expect((await again.json()).error.code).toBe('UNAUTHORIZED');
  });

  it('a stream token expires after SSE_TOKEN_TTL_MS', async () => {
    const t = await token();
    await sleep(1100);
    expect((await fetch(`${setup.api.base}/api/events?token=${t}`)).status).toBe(401);
  });

  it('past SSE_MAX_STREAMS a new stream gets 429 with Retry-After, and a closed stream frees its place', async () => {
    const before = setup.fleet.events.listenerCount();
    const a = await openStream();
    const b = await openStream();
    expect([a.res.status, b.res.status]).toEqual([200, 200]);
    const c = await fetch(`${setup.api.base}/api/events`, { headers: { 'x-api-key': setup.api.key } });
    expect(c.status).toBe(429);
    expect(c.headers.get('retry-after')).toBe('10');
    expect((await c.json()).error.code).toBe('TOO_MANY_STREAMS');
    a.close();
    await waitFor(() => setup.fleet.events.listenerCount() === before + 1);
    const d = await openStream();
    expect(d.res.status).toBe(200);
    b.close();
    d.close();
    await waitFor(() => setup.fleet.events.listenerCount() === before);
  });

  it('a reader that stops reading is dropped instead of buffered without bound', async () => {
    const before = setup.fleet.events.listenerCount();
    const { port } = new URL(setup.api.base);
    const socket = connect(Number(port), '127.0.0.1');
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(`GET /api/events HTTP/1.1\r\nHost: x\r\nX-API-Key: ${setup.api.key}\r\n\r\n`);
    // Read the head, then stop reading: the kernel's buffers fill, then the server's.
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.pause();
    expect(setup.fleet.events.listenerCount()).toBe(before + 1);
    const qr = 'x'.repeat(100_000);
    for (let i = 0; i < 600 && setup.fleet.events.listenerCount() > before; i++) {
      setup.fleet.events.emit('qrcode.updated', { instanceId: 'slow', qr, at: new Date() });
      if (i % 50 === 0) await sleep(10);
    }
    await waitFor(() => setup.fleet.events.listenerCount() === before);
    socket.resume();
    await waitFor(() => closed);
  });
});
