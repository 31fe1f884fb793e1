import { collectDefaultMetrics, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseEventLoopLag } from '../../../scripts/bench/support/event-loop-lag.js';

describe('bench:scale’s event-loop lag', () => {
  it('reads the max and p99 that the supervisor’s default metrics expose, and sees a block of the loop in the max', async () => {
    // As src/api/metrics.ts registers them.
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'wafleet_process_' });
    await registry.metrics();
    await new Promise((r) => setTimeout(r, 20));
    const until = Date.now() + 60;
    while (Date.now() < until) {
      // The loop held for 60 ms.
    }
    await new Promise((r) => setTimeout(r, 20));
    const lag = parseEventLoopLag(await registry.metrics());
    expect(lag).not.toBeNull();
    expect(lag!.maxMs).toBeGreaterThanOrEqual(50);
    expect(lag!.p99Ms).toBeLessThanOrEqual(lag!.maxMs);
  });

  it('reads each figure from its own line, labelled or not, in ms', () => {
    const text = [
      '# HELP wafleet_process_nodejs_eventloop_lag_max_seconds The maximum recorded event loop delay.',
      'wafleet_process_nodejs_eventloop_lag_min_seconds 0.001',
      'wafleet_process_nodejs_eventloop_lag_max_seconds 0.5',
      'wafleet_process_nodejs_eventloop_lag_p99_seconds{node="a"} 0.02',
      'wafleet_process_nodejs_eventloop_lag_p90_seconds 0.011',
    ].join('\n');
    expect(parseEventLoopLag(text)).toEqual({ maxMs: 500, p99Ms: 20 });
  });

  it('is null for an exposition without the lag', () => {
    expect(parseEventLoopLag('wafleet_instances{status="CONNECTED"} 3\n')).toBeNull();
    expect(parseEventLoopLag('wafleet_process_nodejs_eventloop_lag_max_seconds 0.5\n')).toBeNull();
  });
});
