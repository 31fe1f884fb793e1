import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CONNECTION_STATUSES, Health } from '../domain/instance.js';
import type { Fleet } from '../supervisor/fleet.js';

/**
 * Prometheus metrics. Instance gauges are computed at scrape time from the fleet's live view
 * (nothing to keep in step); counters follow the fleet's events and the API's responses.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'code'>;
  private readonly duration: Histogram<'method' | 'route'>;

  constructor(fleet: Fleet) {
    const registry = this.registry;
    collectDefaultMetrics({ register: registry, prefix: 'wafleet_process_' });
    new Gauge({
      name: 'wafleet_instances',
      help: 'Instances by connection status',
      labelNames: ['status'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of CONNECTION_STATUSES) this.set({ status: s }, 0);
        for (const h of fleet.list()) this.inc({ status: h.live.status });
      },
    });
    new Gauge({
      name: 'wafleet_instances_health',
      help: 'Instances by health verdict',
      labelNames: ['health'],
      registers: [registry],
      collect() {
        this.reset();
        for (const v of Object.values(Health)) this.set({ health: v }, 0);
        for (const h of fleet.list()) this.inc({ health: h.health });
      },
    });
    const transitions = new Counter({ name: 'wafleet_status_changes_total', help: 'Status changes by new status', labelNames: ['status'], registers: [registry] });
    const reconnects = new Counter({ name: 'wafleet_reconnects_total', help: 'Reconnects scheduled', registers: [registry] });
    const reconnectFailures = new Counter({ name: 'wafleet_reconnect_failures_total', help: 'Instances that reached the reconnect cap', registers: [registry] });
    fleet.events.on('connection.update', (e) => {
      transitions.inc({ status: e.status });
      if (e.status === 'RECONNECTING') reconnects.inc();
    });
    fleet.events.on('reconnect.failed', () => reconnectFailures.inc());
    this.requests = new Counter({ name: 'wafleet_api_requests_total', help: 'API requests by route and status code', labelNames: ['method', 'route', 'code'], registers: [registry] });
    this.duration = new Histogram({
      name: 'wafleet_api_request_duration_seconds',
      help: 'API request duration',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [registry],
    });
  }

  /** Counts every response by its route pattern (never the raw path: ids would explode the label set). */
  readonly track: RequestHandler = (req, res, next) => {
    const stop = this.duration.startTimer();
    res.on('finish', () => {
      const route = req.route?.path ? String(req.route.path) : 'unmatched';
      this.requests.inc({ method: req.method, route, code: String(res.statusCode) });
      stop({ method: req.method, route });
    });
    next();
  };

  readonly serve: RequestHandler = async (_req, res) => {
    res.type(this.registry.contentType).send(await this.registry.metrics());
  };
}
