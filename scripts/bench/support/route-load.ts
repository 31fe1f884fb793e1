import autocannon from 'autocannon';

/** One route under load: GET on `paths` in turn (one path, or one per instance). */
export interface RouteLoadOptions {
  /** e.g. `http://127.0.0.1:41234` */
  baseUrl: string;
  paths: readonly string[];
  headers: Record<string, string>;
  connections: number;
  durationSec: number;
  /** A response slower than this counts as a timeout (and an error). */
  timeoutSec: number;
}

/** What the table shows of one route's load. */
export interface RouteLoad {
  /** Seconds the load really ran. */
  durationSec: number;
  /** Mean of the per-second samples of completed requests. */
  requestsPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  /** Completed responses, whatever their status. */
  total: number;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  timeouts: number;
  /** Responses by HTTP status code, e.g. `{ '200': 51234 }`. */
  statusCodes: Record<string, number>;
}

export interface RunningLoad {
  readonly done: Promise<RouteLoad>;
  /** Ends the load early (Ctrl+C); `done` then rejects. */
  stop(): void;
}

function summarize(r: autocannon.Result): RouteLoad {
  return {
    durationSec: r.duration,
    requestsPerSec: r.requests.average,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    latencyMaxMs: r.latency.max,
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, { count }]) => [code, count])),
  };
}

/**
 * Starts an autocannon load, bounded by `durationSec` (plus at most `timeoutSec` for the last
 * responses). autocannon runs its connections in a worker thread of its own, so the client's
 * work (building requests, parsing responses, histograms) does not run on the event loop of the
 * server it measures. Each connection walks through `paths` in order, as autocannon's request
 * sequence: a `setupRequest` function cannot cross into that thread (autocannon would `require`
 * it there from a file, outside the TypeScript loader), and a plain sequence of paths needs none.
 */
export function startRouteLoad(options: RouteLoadOptions): RunningLoad {
  if (options.paths.length === 0) throw new Error('a route load needs at least one path');
  let instance: autocannon.Instance | null = null;
  let stopped: ((err: Error) => void) | null = null;
  const done = new Promise<RouteLoad>((resolve, reject) => {
    stopped = reject;
    instance = autocannon(
      {
        url: options.baseUrl,
        workers: 1,
        connections: options.connections,
        duration: options.durationSec,
        timeout: options.timeoutSec,
        headers: options.headers,
        requests: options.paths.map((path) => ({ method: 'GET', path })),
      },
      (err, result) => (err ? reject(err) : resolve(summarize(result))),
    );
  });
  return {
    done,
    // With worker threads autocannon never reports a stopped load: say so here instead.
    stop: () => {
      instance?.stop();
      stopped?.(new Error('the load was stopped before its end'));
    },
  };
}
