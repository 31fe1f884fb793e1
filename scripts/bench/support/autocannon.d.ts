/**
 * The part of autocannon 8's programmatic API the API bench uses (the package ships no types).
 * Shapes from its README ("API", "Results") and lib/run.js.
 */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  namespace autocannon {
    /** One request of the sequence every connection walks through in turn. */
    interface Request {
      method?: string;
      path?: string;
    }

    interface Options {
      url: string;
      connections?: number;
      /** Seconds. */
      duration?: number;
      /** Seconds a response may take before it counts as a timeout (and an error). */
      timeout?: number;
      headers?: Record<string, string>;
      requests?: Request[];
      /** Worker threads that run the connections (split among them); the results are merged. */
      workers?: number;
    }

    /** hdr-histogram-percentiles-obj: latency in ms, or requests per one-second sample. */
    interface Histogram {
      average: number;
      mean: number;
      stddev: number;
      min: number;
      max: number;
      total: number;
      p50: number;
      p90: number;
      p99: number;
      /** p99.9 (hdr-histogram-percentiles-obj names it `p99_9`). */
      p99_9: number;
    }

    interface Result {
      /** Seconds the load really ran. */
      duration: number;
      latency: Histogram;
      /** Per-second samples of completed requests; `total` counts them all. */
      requests: Histogram;
      /** Connection errors, timeouts included. */
      errors: number;
      timeouts: number;
      non2xx: number;
      statusCodeStats: Record<string, { count: number }>;
    }

    /** The running load: an event emitter (`tick`, `done`, …) that can be stopped early. */
    interface Instance extends EventEmitter {
      /** With `workers`, the load ends but `done` is never called (lib/manager.js forgets the threads first). */
      stop(): void;
    }
  }

  function autocannon(options: autocannon.Options, done: (err: Error | null, result: autocannon.Result) => void): autocannon.Instance;

  export = autocannon;
}
