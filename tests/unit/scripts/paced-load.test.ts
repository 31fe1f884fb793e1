import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { latencyFigures, pacedLoad, percentile } from '../../../scripts/bench/support/paced-load.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A local server answering each request after `delayMs`. */
async function serve(delayMs: number): Promise<string> {
  server = createServer((_req, res) => setTimeout(() => res.end('ok'), delayMs));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('percentiles of the paced load', () => {
  it('takes the nearest rank', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 99.9)).toBe(100);
    expect(percentile([], 99)).toBe(0);
    expect(latencyFigures([3.14159, 1, 2])).toEqual({ latencyP50Ms: 2, latencyP99Ms: 3.1, latencyP999Ms: 3.1, latencyMaxMs: 3.1 });
  });
});

describe('the paced load', () => {
  it('sends at its rate and times each request from when it was due, so a server that cannot keep up shows its queue', async () => {
    const url = await serve(50);
    // One connection, 50 ms an answer: 20 answers a second at most against 40 due. A closed loop
    // would time every request at ~50 ms; from the due time, the last ones waited ~1 s more.
    const slow = await pacedLoad({ url, paths: ['/'], headers: {}, connections: 1, rate: 40, durationSec: 2, timeoutSec: 10 });
    expect(slow.total).toBe(80);
    expect(slow.latencyP50Ms).toBeGreaterThan(500);
    expect(slow.latencyMaxMs).toBeGreaterThan(1_500);
  });

  it('times a server that keeps up at its own answer time', async () => {
    const url = await serve(5);
    const quick = await pacedLoad({ url, paths: ['/a', '/b'], headers: {}, connections: 4, rate: 100, durationSec: 2, timeoutSec: 10 });
    expect(quick.total).toBeGreaterThanOrEqual(199);
    expect(quick.total).toBeLessThanOrEqual(201);
    expect(quick.statusCodes).toEqual({ '200': quick.total });
    expect(quick.latencyP50Ms).toBeGreaterThanOrEqual(5);
    expect(quick.latencyP50Ms).toBeLessThan(50);
  });
});
