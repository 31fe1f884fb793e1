import { createConnection, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../../src/db/pool.js';
import { waitForDatabase } from '../../../src/db/wait.js';
import type { Logger } from '../../../src/logger/index.js';
import { serverUrl } from '../../support/db.js';
import { freePort } from '../../support/net.js';
import { waitFor } from '../../support/webhook-receiver.js';

type Line = [level: 'warn' | 'info', message: string, fields: Record<string, unknown> | undefined];

function recordingLogger(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const noop = () => undefined;
  const log: Logger = {
    error: noop,
    debug: noop,
    warn: (message, fields) => void lines.push(['warn', message, fields]),
    info: (message, fields) => void lines.push(['info', message, fields]),
    child: () => log,
  };
  return { log, lines };
}

/** The test server's URL with its port replaced: nothing answers there until a proxy is started. */
function urlOnPort(port: number): string {
  const url = new URL(serverUrl());
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}

/** A TCP proxy on `port` to the real server: "MySQL has finished booting". */
async function startProxy(port: number): Promise<() => Promise<void>> {
  const target = new URL(serverUrl());
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 3306) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return () => {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  };
}

const pools: Pool[] = [];
const proxies: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.end().catch(() => undefined)));
  await Promise.all(proxies.splice(0).map((close) => close()));
});

function pool(url: string): Pool {
  const p = createPool({ url, size: 2 });
  pools.push(p);
  return p;
}

describe('waitForDatabase', () => {
  it('returns at once, logging nothing, when the database answers', async () => {
    const { log, lines } = recordingLogger();
    await waitForDatabase(pool(serverUrl()), 10_000, log);
    expect(lines).toEqual([]);
  });

  it('retries every retryMs, logging each failed attempt, until the database comes up', async () => {
    const port = await freePort();
    const { log, lines } = recordingLogger();
    const waiting = waitForDatabase(pool(urlOnPort(port)), 50, log);
    await waitFor(() => lines.length >= 3, 'three failed attempts');
    proxies.push(await startProxy(port));
    await waiting;

    const warnings = lines.filter(([level]) => level === 'warn');
    expect(warnings.length).toBeGreaterThanOrEqual(3);
    warnings.forEach(([, message, fields], i) => {
      expect(message).toBe('database unreachable, retrying in 50 ms');
      expect(fields).toMatchObject({ attempt: i + 1, error: expect.stringMatching(/ECONNREFUSED/) });
    });
    expect(lines.at(-1)).toEqual(['info', 'database is reachable again', { attempt: warnings.length + 1 }]);
  });

  it('gives up once its signal aborts', async () => {
    const port = await freePort();
    const { log, lines } = recordingLogger();
    const controller = new AbortController();
    const waiting = waitForDatabase(pool(urlOnPort(port)), 20, log, controller.signal);
    await waitFor(() => lines.length >= 1, 'a failed attempt');
    controller.abort();
    await expect(waiting).rejects.toThrow('stopped while waiting for the database');
  });
});
