/**
 * An open-loop load at a fixed rate, for the API bench's `--rate`: request k is due at
 * start + k / rate whether or not earlier ones were answered, and its latency runs from that due
 * time to the end of its response. A server that falls behind therefore shows it in full (the
 * time a request waited for a free connection counts), which a closed loop hides by sending less
 * (coordinated omission). autocannon's own pacing does not do this: it sends each second's quota
 * in a burst and then waits for the next second.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { LoadRequest, LoadResult } from './api-load.js';

/** Nearest-rank percentile of ascending `sorted` (0 when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Latency figures in ms, to a tenth, from the latencies of every answered request. */
export function latencyFigures(latenciesMs: readonly number[]): Pick<LoadResult, 'latencyP50Ms' | 'latencyP99Ms' | 'latencyP999Ms' | 'latencyMaxMs'> {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const tenth = (v: number): number => Math.round(v * 10) / 10;
  return {
    latencyP50Ms: tenth(percentile(sorted, 50)),
    latencyP99Ms: tenth(percentile(sorted, 99)),
    latencyP999Ms: tenth(percentile(sorted, 99.9)),
    latencyMaxMs: tenth(sorted.at(-1) ?? 0),
  };
}

/** What one request came to: its status, or how it failed. */
type Answer = { status: number } | { failed: 'timeout' | 'error' };

export async function pacedLoad(load: LoadRequest & { rate: number }): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: load.connections });
  const base = new URL(load.url);
  const intervalMs = 1000 / load.rate;
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  const perSecond: number[] = [];
  let errors = 0;
  let timeouts = 0;
  const start = performance.now();
  const end = start + load.durationSec * 1000;

  const send = (path: string, dueAt: number): Promise<void> =>
    new Promise<Answer>((resolve) => {
      const req = request({ host: base.hostname, port: base.port, path, method: 'GET', headers: load.headers, agent, timeout: load.timeoutSec * 1000 }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', () => resolve({ failed: 'error' }));
      });
      req.on('timeout', () => {
        req.destroy();
        resolve({ failed: 'timeout' });
      });
      req.on('error', () => resolve({ failed: 'error' }));
      req.end();
    }).then((answer) => {
      const now = performance.now();
      if ('failed' in answer) {
        errors++;
        if (answer.failed === 'timeout') timeouts++;
        return;
      }
      latencies.push(now - dueAt);
      statusCodes[answer.status] = (statusCodes[answer.status] ?? 0) + 1;
      const second = Math.floor((now - start) / 1000);
      perSecond[second] = (perSecond[second] ?? 0) + 1;
    });

  const inFlight: Promise<void>[] = [];
  for (let sent = 0; ; ) {
    const now = performance.now();
    if (now >= end) break;
    // Every request due by now goes out, each timed from its own due time.
    for (const due = Math.floor((now - start) / intervalMs) + 1; sent < due; sent++) {
      inFlight.push(send(load.paths[sent % load.paths.length]!, start + sent * intervalMs));
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(1, start + sent * intervalMs - performance.now()))));
  }
  await Promise.all(inFlight);
  agent.destroy();
  const seconds = Array.from({ length: load.durationSec }, (_, i) => perSecond[i] ?? 0);
  const total = latencies.length;
  return {
    durationSec: load.durationSec,
    requestsPerSec: seconds.length === 0 ? 0 : seconds.reduce((a, b) => a + b, 0) / seconds.length,
    ...latencyFigures(latencies),
    total,
    non2xx: Object.entries(statusCodes).reduce((n, [code, count]) => (Number(code) >= 200 && Number(code) < 300 ? n : n + count), 0),
    errors,
    timeouts,
    statusCodes,
  };
}
