/**
 * The supervisor's event-loop lag over a window, from its own `/metrics`: prom-client's default
 * metrics report the max and p99 of a perf_hooks event-loop delay histogram and reset it at each
 * scrape, so a scrape at the start of the window and one at its end give the figures of the
 * window alone (when nothing else scrapes meanwhile). A lag of hundreds of ms is work that held
 * every API request and IPC message behind it.
 */
import type { ApiClient } from '../../support/api-client.js';

const MAX = 'wafleet_process_nodejs_eventloop_lag_max_seconds';
const P99 = 'wafleet_process_nodejs_eventloop_lag_p99_seconds';

export interface EventLoopLag {
  maxMs: number;
  p99Ms: number;
}

/** The max and p99 lag of a Prometheus text exposition, in ms; null when either is missing. */
export function parseEventLoopLag(text: string): EventLoopLag | null {
  const value = (name: string): number | null => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    const seconds = line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
    return Number.isFinite(seconds) ? seconds * 1000 : null;
  };
  const maxMs = value(MAX);
  const p99Ms = value(P99);
  return maxMs === null || p99Ms === null ? null : { maxMs, p99Ms };
}

/** Scrapes `/metrics`; the lag since the previous scrape, or null when it could not be read. */
export async function scrapeEventLoopLag(api: ApiClient): Promise<EventLoopLag | null> {
  try {
    const answer = await api.request('GET', '/metrics');
    return answer.status === 200 ? parseEventLoopLag(answer.text) : null;
  } catch {
    return null;
  }
}
