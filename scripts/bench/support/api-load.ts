/**
 * The API bench's load generator, run as a process of its own (scripts/bench/support/route-load.ts
 * starts it, pinned with `taskset` when it can): one load on the main thread of this process,
 * nothing else: autocannon's closed loop, or with `rate` the open loop of paced-load.ts. Its only argument is the load as JSON (`LoadRequest`); it prints one
 * line of JSON on stdout (`LoadResult`) and exits. SIGTERM ends the load early and exits 143
 * without a result.
 *
 * Run by hand: node --import tsx scripts/bench/support/api-load.ts '{"url":"http://127.0.0.1:3000","paths":["/healthz"],"headers":{},"connections":10,"durationSec":5,"timeoutSec":10}'
 */
import autocannon from 'autocannon';
import { pacedLoad } from './paced-load.js';

export interface LoadRequest {
  /** e.g. `http://127.0.0.1:41234` */
  url: string;
  /** Each connection GETs these in turn (one path, or one per instance). */
  paths: string[];
  headers: Record<string, string>;
  connections: number;
  /**
   * Requests per second, open loop (paced-load.ts): each request due at its time over at most
   * `connections` connections, latency from its due time. Absent: autocannon's closed loop, each
   * connection sending again as soon as it is answered.
   */
  rate?: number;
  durationSec: number;
  timeoutSec: number;
}

/** What autocannon measured, in the units it measures in (latency in ms, 1 ms resolution). */
export interface LoadResult {
  durationSec: number;
  requestsPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyP999Ms: number;
  latencyMaxMs: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
}

function parseRequest(text: string | undefined): LoadRequest {
  if (!text) throw new Error('usage: api-load.ts <load as JSON>');
  const r = JSON.parse(text) as LoadRequest;
  if (!r.url || !Array.isArray(r.paths) || r.paths.length === 0) throw new Error('the load needs a url and at least one path');
  return r;
}

function summarize(r: autocannon.Result): LoadResult {
  return {
    durationSec: r.duration,
    requestsPerSec: r.requests.average,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    latencyP999Ms: r.latency.p99_9,
    latencyMaxMs: r.latency.max,
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, { count }]) => [code, count])),
  };
}

const request = parseRequest(process.argv[2]);
if (request.rate) {
  const { rate } = request;
  process.once('SIGTERM', () => process.exit(143));
  pacedLoad({ ...request, rate }).then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (err: Error) => {
      process.stderr.write(`paced load: ${err.message}\n`);
      process.exit(1);
    },
  );
} else {
  const instance = autocannon(
    {
      url: request.url,
      connections: request.connections,
      duration: request.durationSec,
      timeout: request.timeoutSec,
      headers: request.headers,
      requests: request.paths.map((path) => ({ method: 'GET', path })),
    },
    (err, result) => {
      if (err) {
        process.stderr.write(`autocannon: ${err.message}\n`);
        process.exit(1);
      }
      process.stdout.write(`${JSON.stringify(summarize(result))}\n`);
    },
  );
  process.once('SIGTERM', () => {
    instance.stop();
    process.exit(143);
  });
}
