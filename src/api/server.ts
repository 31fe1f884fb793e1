import { createServer, type Server } from 'node:http';
import type { Express } from 'express';

/** Starts listening and resolves once the socket is bound (or rejects, e.g. port in use). */
export function listen(app: Express, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(app);
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** What a request in flight gets to finish when the server closes; past it every connection is cut. */
export const CLOSE_GRACE_MS = 2_000;

/**
 * Stops accepting connections, closes idle keep-alive ones at once, and gives requests in flight
 * `graceMs` to finish before cutting every connection left. Without the cut, one open event
 * stream (a dashboard tab) would hold the shutdown until its budget ran out.
 */
export function closeServer(server: Server, graceMs = CLOSE_GRACE_MS): Promise<void> {
  return new Promise((resolve) => {
    const cut = setTimeout(() => server.closeAllConnections(), graceMs);
    cut.unref();
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}
