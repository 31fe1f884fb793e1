import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  /** 0-based order of arrival at this receiver. */
  index: number;
  eventId: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface ReceivedDelivery extends Delivery {
  /** What the receiver answered; undefined while it has not (or never will). */
  status: number | undefined;
  /** When it arrived (epoch ms). */
  at: number;
}

/** Decides the answer to a delivery: an HTTP status, possibly later; a promise that never settles hangs. */
export type Respond = (delivery: Delivery) => number | Promise<number>;

export interface Receiver {
  url: string;
  received: ReceivedDelivery[];
  /** Deliveries answered with 2xx: what the receiver actually took in. */
  accepted(): ReceivedDelivery[];
  /** How many times each event id was accepted. */
  acceptedCounts(): Map<string, number>;
  respond: Respond;
  close(): Promise<void>;
}

/** A real webhook receiver on 127.0.0.1 (port 0), recording every request. */
export async function startReceiver(respond: Respond = () => 200): Promise<Receiver> {
  const received: ReceivedDelivery[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry: ReceivedDelivery = {
        index: received.length,
        eventId: String(req.headers['x-webhook-id'] ?? ''),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        status: undefined,
        at: Date.now(),
      };
      received.push(entry);
      void Promise.resolve(receiver.respond(entry)).then((status) => {
        entry.status = status;
        res.writeHead(status, { 'Content-Type': 'text/plain' }).end('ok');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const accepted = (): ReceivedDelivery[] => received.filter((r) => r.status !== undefined && r.status >= 200 && r.status < 300);
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}/hooks/wa-fleet`,
    received,
    accepted,
    acceptedCounts: () => {
      const counts = new Map<string, number>();
      for (const r of accepted()) counts.set(r.eventId, (counts.get(r.eventId) ?? 0) + 1);
      return counts;
    },
    respond,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return receiver;
}

/** Polls `condition` every 10 ms until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
