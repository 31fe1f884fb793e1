import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sendHostileRequests } from '../../support/hostile-requests.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A TCP server that answers each connection with `reply`, or resets it when `reply` is null. */
async function rawServer(reply: string | null): Promise<string> {
  server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => (reply === null ? socket.resetAndDestroy() : socket.end(reply)));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

const errorReply = (status: number) => {
  const body = '{"error":{"code":"NOT_FOUND","message":"no"}}';
  return `HTTP/1.1 ${status} X\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
};

describe('the hostile-request harness', () => {
  it('fails a server that resets connections instead of answering', async () => {
    const base = await rawServer(null);
    const { failures, statuses } = await sendHostileRequests({ base, key: 'k'.repeat(16), count: 20, seed: 1 });
    expect(statuses.get(-1)).toBeGreaterThan(10);
    expect(failures.filter((f) => /got no answer: ECONNRESET|got no answer: .*socket/i.test(f)).length).toBeGreaterThan(10);
  });

  it('passes a server that answers every request with a well-formed 4xx', async () => {
    const base = await rawServer(errorReply(404));
    const { failures } = await sendHostileRequests({ base, key: 'k'.repeat(16), count: 20, seed: 1 });
    expect(failures).toEqual([]);
  });

  it('fails a server that answers 500', async () => {
    const base = await rawServer(errorReply(500));
    const { failures } = await sendHostileRequests({ base, key: 'k'.repeat(16), count: 20, seed: 1 });
    expect(failures.some((f) => f.endsWith('-> 500'))).toBe(true);
  });
});
