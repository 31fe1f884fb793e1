import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CONNECTION_STATUSES, Health } from '../domain/instance.js';
import type { Checks } from '../checks/checks.js';
import type { Fleet } from '../supervisor/fleet.js';
import type { WebhookStats } from '../webhooks/dispatcher.js';
import type { ClusterNode } from '../cluster/cluster-node.js';
import type { Leases } from '../cluster/leases.js';

const MB = 1024 * 1024;

/** Messages of one instance in one state, as the database counts them. */
export interface MessageCount {
  instanceId: string;
  state: string;
  count: number;
}

/**
 * Prometheus metrics. Instance gauges are computed at scrape time from the fleet's live view
 * (nothing to keep in step); counters follow the fleet's events and the API's responses.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'code'>;
  private readonly duration: Histogram<'method' | 'route'>;

  constructor(
    fleet: Fleet,
    checks: Checks,
    webhookStats?: () => WebhookStats,
    messageCounts?: () => Promise<MessageCount[] | null>,
    cluster?: { node: ClusterNode; leases: Leases } | null,
  ) {
    const registry = this.registry;
    if (cluster) {
      const node = cluster.leases.nodeId;
      new Gauge({
        name: 'wafleet_cluster_leases_held',
        help: 'Instance leases this node holds now',
        labelNames: ['node'],
        registers: [registry],
        collect() {
          this.set({ node }, cluster.leases.size);
        },
      });
      new Gauge({
        name: 'wafleet_cluster_lease_events',
        help: 'Since start, per node: claims, failovers (claims from another node), losses, handovers, fencing refusals, self-fences, nodes seen down',
        labelNames: ['node', 'kind'],
        registers: [registry],
        collect() {
          const s = cluster.leases.stats;
          const kinds = { claims: s.claims, failovers: s.failovers, losses: s.losses, handovers: s.handovers, fencing_refusals: s.fencingRefusals, self_fences: s.selfFences, nodes_down: cluster.node.nodesDown };
          for (const [kind, value] of Object.entries(kinds)) this.set({ node, kind }, value);
        },
      });
    }
    new Gauge({
      name: 'wafleet_instance_pss_bytes',
      help: 'PSS of an instance, by part (worker process, browser tree), from the latest memory sample',
      labelNames: ['instance', 'part'],
      registers: [registry],
      collect() {
        this.reset();
        for (const i of checks.memoryReport().instances) {
          if (i.workerPssMb !== null) this.set({ instance: i.instanceId, part: 'worker' }, i.workerPssMb * MB);
          if (i.browserPssMb !== null) this.set({ instance: i.instanceId, part: 'browser' }, i.browserPssMb * MB);
        }
      },
    });
    const loopGauge = (name: string, help: string, pick: (l: ReturnType<Checks['stats']>['loops'][keyof ReturnType<Checks['stats']>['loops']]) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['loop'],
        registers: [registry],
        collect() {
          for (const [loop, stats] of Object.entries(checks.stats().loops)) {
            const value = pick(stats);
            if (value !== null) this.set({ loop }, value);
          }
        },
      });
    loopGauge('wafleet_check_last_duration_seconds', 'Duration of the last tick of each check loop', (l) => (l.lastDurationMs === null ? null : l.lastDurationMs / 1000));
    loopGauge('wafleet_check_runs', 'Ticks run by each check loop since start', (l) => l.runs);
    loopGauge('wafleet_check_skips', 'Ticks skipped because the previous one was still running', (l) => l.skips);
    loopGauge('wafleet_check_errors', 'Ticks that failed', (l) => l.errors);
    new Gauge({
      name: 'wafleet_recoveries',
      help: 'Recovery ladder steps taken since start, by step and outcome',
      labelNames: ['step', 'outcome'],
      registers: [registry],
      collect() {
        for (const { step, outcome, count } of checks.recoveryCounts()) this.set({ step, outcome }, count);
      },
    });
    if (webhookStats) {
      new Gauge({
        name: 'wafleet_webhook_deliveries',
        help: 'Webhook delivery outcomes since start',
        labelNames: ['outcome'],
        registers: [registry],
        collect() {
          const s = webhookStats();
          this.set({ outcome: 'delivered' }, s.delivered);
          this.set({ outcome: 'failed' }, s.failed);
          this.set({ outcome: 'dead' }, s.dead);
          this.set({ outcome: 'skipped_open_circuit' }, s.skippedOpenCircuit);
        },
      });
    }
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
    new Gauge({
      name: 'wafleet_starts_waiting',
      help: 'Starts waiting at the start gate (fleet memory, launch concurrency)',
      registers: [registry],
      collect() {
        this.set(fleet.gate.stats().waiting);
      },
    });
    new Gauge({
      name: 'wafleet_launches_in_progress',
      help: 'Worker launches admitted by the start gate and not finished yet',
      registers: [registry],
      collect() {
        this.set(fleet.gate.stats().launching);
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
    const received = new Counter({ name: 'wafleet_messages_received_total', help: 'Messages the linked phones received, or sent from the phone itself (message.received)', labelNames: ['instance'], registers: [registry] });
    const outcomes = new Counter({
      name: 'wafleet_message_outcomes_total',
      help: 'Queued messages reaching a state: sent, failed, expired, unknown; delivered and read from receipts',
      labelNames: ['instance', 'state'],
      registers: [registry],
    });
    fleet.events.on('message.received', (e) => received.inc({ instance: e.instanceId }));
    fleet.events.on('message.status', (e) => outcomes.inc({ instance: e.instanceId, state: e.status }));
    fleet.events.on('message.ack', (e) => {
      if (e.messageId && (e.status === 'delivered' || e.status === 'read')) outcomes.inc({ instance: e.instanceId, state: e.status });
    });
    if (messageCounts) {
      new Gauge({
        name: 'wafleet_messages',
        help: 'Queued messages by instance and state, as the database holds them (absent while it is away)',
        labelNames: ['instance', 'state'],
        registers: [registry],
        async collect() {
          const counts = await messageCounts().catch(() => null);
          this.reset();
          for (const c of counts ?? []) this.set({ instance: c.instanceId, state: c.state }, c.count);
        },
      });
    }
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
