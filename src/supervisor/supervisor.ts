import type { Server } from 'node:http';
import type { Express } from 'express';
import { createApp } from '../api/app.js';
import { closeServer, listen } from '../api/server.js';
import { Checks } from '../checks/checks.js';
import { checkSettings } from '../checks/settings.js';
import type { Config } from '../config/index.js';
import { migrate } from '../db/migrations.js';
import { createPool, type Pool } from '../db/pool.js';
import { waitForDatabase } from '../db/wait.js';
import { Category, type Logger } from '../logger/index.js';
import { MIGRATIONS_DIR, VERSION } from '../paths.js';
import { Messages } from '../messages/messages.js';
import { WebhookDispatcher } from '../webhooks/dispatcher.js';
import { ClusterNode } from '../cluster/cluster-node.js';
import { Leases } from '../cluster/leases.js';
import { nodeUrl } from '../cluster/node-url.js';
import { idleTransactionTimeoutS } from '../cluster/placement.js';
import { Fleet } from './fleet.js';
import type { WorkerLauncher } from './instance/handle.js';
import type { ShutdownStep } from './shutdown.js';

export interface SupervisorOptions {
  config: Config;
  log: Logger;
  /** How workers are started; real whatsapp-web.js workers unless a host or a test passes its own. */
  launch?: WorkerLauncher;
  /** Serve the HTTP API (default true); an embedding host that has its own server may say false. */
  http?: boolean;
}

/** The webhook dispatcher's share of the shutdown budget: what is due is tried once more, briefly. */
const WEBHOOK_STOP_BUDGET_MS = 3_000;
/** Sends in flight get this long to be recorded before the fleet stops their workers. */
const SENDER_STOP_BUDGET_MS = 5_000;

/**
 * The composition root: builds every part from the config — database pool, fleet (with its
 * journal and event bus), webhook dispatcher, check loops, HTTP API — starts them in order and
 * stops them in reverse. `main.ts` reads the config and runs one; an application embeds one the
 * same way (see the README).
 */
export class Supervisor {
  readonly pool: Pool;
  readonly fleet: Fleet;
  readonly webhooks: WebhookDispatcher;
  readonly checks: Checks;
  readonly messages: Messages;
  readonly app: Express | null;
  /** CLUSTER=on: this node among the others, and the leases it holds; null otherwise. */
  readonly cluster: { node: ClusterNode; leases: Leases } | null;
  private server: Server | null = null;
  private stopping = false;
  private readonly log: Logger;

  constructor(private readonly options: SupervisorOptions) {
    const { config, log } = options;
    this.log = log.child({ category: Category.SYSTEM });
    this.pool = createPool({
      url: config.mysqlUrl,
      size: config.mysqlPoolSize,
      ...(config.cluster === 'on' ? { idleTransactionTimeoutS: idleTransactionTimeoutS(config.leaseTtlMs) } : {}),
    });
    const leases = config.cluster === 'on' ? new Leases(config.nodeId, log.child({ category: Category.SYSTEM })) : null;
    this.fleet = new Fleet({ config, pool: this.pool, log, leases, ...(options.launch ? { launch: options.launch } : {}) });
    this.cluster = leases
      ? {
          leases,
          node: new ClusterNode({
            pool: this.pool,
            fleet: this.fleet,
            leases,
            log,
            url: () => nodeUrl(config, this.address?.port),
            maxInstances: config.nodeMaxInstances,
            leaseTtlMs: config.leaseTtlMs,
            leaseRenewMs: config.leaseRenewMs,
            version: VERSION,
          }),
        }
      : null;
    this.webhooks = new WebhookDispatcher({
      pool: this.pool,
      log: log.child({ category: Category.WEBHOOK }),
      secret: config.webhookSecret,
      maxAttempts: config.webhookMaxAttempts,
      baseDelayMs: config.webhookBaseDelayMs,
      timeoutMs: config.webhookTimeoutMs,
    });
    // Every fleet event has just queued its notifications: deliver them now, not at the next poll.
    this.fleet.events.onAny(() => this.webhooks.wake());
    this.checks = new Checks({ fleet: this.fleet, log, settings: checkSettings(config) });
    this.messages = new Messages({ fleet: this.fleet, pool: this.pool, config, log: log.child({ category: Category.MESSAGE }) });
    this.app =
      options.http === false
        ? null
        : createApp({
            pool: this.pool,
            fleet: this.fleet,
            checks: this.checks,
            messages: this.messages,
            config,
            log,
            version: VERSION,
            startedAt: new Date(),
            shuttingDown: () => this.stopping,
            wakeWebhooks: () => this.webhooks.wake(),
            webhookStats: () => this.webhooks.stats(),
            cluster: this.cluster,
          });
  }

  /** Where the API listens, once started (null without HTTP). */
  get address(): { host: string; port: number } | null {
    const bound = this.server?.address();
    return bound && typeof bound === 'object' ? { host: bound.address, port: bound.port } : null;
  }

  get shuttingDown(): boolean {
    return this.stopping;
  }

  /**
   * Waits for the database, migrates (MIGRATE_ON_START), then starts the webhook dispatcher, the
   * fleet (rehydration scheduled), the message sender, the check loops and the HTTP API, in that order.
   */
  async start(): Promise<void> {
    const { config } = this.options;
    const dbLog = this.options.log.child({ category: Category.DB });
    await waitForDatabase(this.pool, config.dbRetryIntervalMs, dbLog);
    if (config.migrateOnStart) await migrate(config.mysqlUrl, MIGRATIONS_DIR, dbLog);
    this.webhooks.start();
    await this.fleet.start();
    this.messages.start();
    this.checks.start();
    if (this.app) this.server = await listen(this.app, config.host, config.port);
    // Last: instances are claimed once this node can answer the requests forwarded to it.
    await this.cluster?.node.start();
  }

  /**
   * The stop, as ordered steps for the process's one shutdown path: the loops first (no recovery
   * may start a worker the fleet's stop has just stopped), then the fleet (the API keeps answering
   * reads and refuses writes meanwhile; the sender stops first), the webhooks, the HTTP server, the pool.
   */
  shutdownSteps(): ShutdownStep[] {
    return [
      {
        name: 'checks',
        run: async () => {
          this.stopping = true;
          await this.checks.stop();
        },
      },
      // Before the fleet: a send in flight is answered and recorded while its worker still runs.
      { name: 'messages', run: (left) => this.messages.stop(Math.min(left, SENDER_STOP_BUDGET_MS)) },
      // CLUSTER=on: every instance is handed over (stopped, its lease given back) while the other nodes claim them.
      ...(this.cluster ? [{ name: 'cluster', run: () => this.cluster!.node.stop() }] : []),
      { name: 'fleet', run: () => this.fleet.stop() },
      { name: 'webhooks', run: (left) => this.webhooks.stop(Math.min(left, WEBHOOK_STOP_BUDGET_MS)) },
      { name: 'http server', run: async () => void (this.server && (await closeServer(this.server))) },
      { name: 'database pool', run: () => this.pool.end() },
    ];
  }

  /** Runs every stop step in order (an embedding host's shutdown; main.ts hands the steps to its Shutdown instead). */
  async stop(): Promise<void> {
    for (const step of this.shutdownSteps()) {
      await step.run(Number.POSITIVE_INFINITY).catch((err: unknown) => this.log.error(`stopping ${step.name} failed: ${(err as Error).message}`));
    }
  }
}
