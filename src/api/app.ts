import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Config } from '../config/index.js';
import { outboundMessages } from '../db/messages-repository.js';
import type { Pool } from '../db/pool.js';
import { Category, type Logger } from '../logger/index.js';
import { PUBLIC_DIR } from '../paths.js';
import type { Fleet } from '../supervisor/fleet.js';
import { requireApiKey, trustProxies } from './auth.js';
import { errorHandler, notFound } from './http-errors.js';
import { Metrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import type { Checks } from '../checks/checks.js';
import { ShuttingDownError } from '../errors/index.js';
import type { WebhookStats } from '../webhooks/dispatcher.js';
import { checksRouter } from './routes/checks.js';
import { demoRouter } from './routes/demo.js';
import { eventsRouter, StreamTokens } from './routes/events.js';
import { healthRouter } from './routes/health.js';
import { healthzRouter } from './routes/healthz.js';
import { instancesRouter } from './routes/instances.js';
import { keysRouter } from './routes/keys.js';
import { messagesRouter } from './routes/messages.js';
import type { Messages } from '../messages/messages.js';
import { ScopedKeys } from './scoped-keys.js';
import type { ResolveHost } from '../webhooks/address-guard.js';
import { webhooksRouter } from './routes/webhooks.js';
import { nodesRouter } from './routes/nodes.js';
import { forwardToOwner } from './forward.js';
import type { ClusterNode } from '../cluster/cluster-node.js';
import type { Leases } from '../cluster/leases.js';
import { clusterRows } from '../db/cluster-repository.js';

export interface AppDeps {
  pool: Pool;
  fleet: Fleet;
  config: Config;
  log: Logger;
  version: string;
  startedAt: Date;
  /** True once shutdown began: writes are refused with 503, reads still answer. */
  shuttingDown: () => boolean;
  /** Asks the webhook dispatcher to deliver soon (after a manual retry). */
  wakeWebhooks?: () => void;
  /** The check loops, for the health check on demand and the memory report. */
  checks: Checks;
  /** The message queue: sends, their states, received media. */
  messages: Messages;
  /** Webhook delivery counters for /metrics. */
  webhookStats?: () => WebhookStats;
  /** CLUSTER=on: this node and its leases (nodes routes, forwarding, metrics); null or absent: one supervisor runs every instance. */
  cluster?: { node: ClusterNode; leases: Leases } | null;
  /** How a webhook URL set with an instance's key is resolved to be checked (tests inject one; default: the system resolver). */
  resolveHost?: ResolveHost;
}

const refuseWritesDuringShutdown =
  (shuttingDown: () => boolean): RequestHandler =>
  (req, _res, next) => {
    next(req.method !== 'GET' && req.method !== 'HEAD' && shuttingDown() ? new ShuttingDownError() : undefined);
  };

export function createApp(deps: AppDeps): Express {
  const { pool, fleet, config, checks } = deps;
  const log = deps.log.child({ category: Category.API });
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // X-Forwarded-For names the client (for the failed-key limiter) only through TRUSTED_PROXIES.
  app.set('trust proxy', trustProxies(config.trustedProxies));
  // Security headers: helmet's defaults, except two that only make sense over TLS. The supervisor
  // serves plain HTTP on every address (HOST=0.0.0.0) and browsers exempt only localhost from
  // `upgrade-insecure-requests`: on a LAN address it rewrites every script, stylesheet and fetch of
  // the dashboard to https://, which nothing answers, and the page stays blank. HSTS is dropped too:
  // over plain HTTP browsers must ignore it (RFC 6797 §8.1; never applied to IP addresses either),
  // and a year of includeSubDomains is no promise a plain-HTTP server should make for its domain.
  // Only a request that came over TLS gets the full defaults, both included: req.secure, i.e. a TLS
  // socket of our own, or X-Forwarded-Proto: https from a proxy listed in TRUSTED_PROXIES (from
  // anyone else the header is ignored). The rest of the CSP is helmet's default policy, unchanged.
  const tlsHeaders = helmet();
  const plainHttpHeaders = helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } }, strictTransportSecurity: false });
  app.use((req, res, next) => (req.secure ? tlsHeaders : plainHttpHeaders)(req, res, next));
  const cluster = deps.cluster ?? null;
  const metrics = new Metrics(fleet, checks, deps.webhookStats, () => fleet.journal.read(() => outboundMessages.countsByState(pool)), cluster);
  app.use(metrics.track);
  app.use(healthzRouter(fleet));
  // The dashboard's static files are public; everything they fetch needs the key. Never asked for
  // an API path: every such request would stat a file that is not there (a tenth of the CPU of a
  // details read in bench:api's profile).
  const dashboard = express.static(PUBLIC_DIR, { index: 'index.html', maxAge: '5m' });
  app.use((req, res, next) => (req.path.startsWith('/api/') || req.path === '/metrics' ? next() : dashboard(req, res, next)));
  // Per-instance keys, verified through the journal's circuit (a database outage fails fast).
  const scopedKeys = new ScopedKeys({ pool, read: (query) => fleet.journal.read(query) });
  const auth = requireApiKey({ apiKey: config.apiKey, disabled: config.authDisabled, failuresPerMinute: config.apiAuthFailuresPerMinute, log, scopedKeys });
  // Before the blanket check: the stream also accepts a short-lived token (EventSource sends no headers).
  app.use(eventsRouter(fleet, new StreamTokens(config.sseTokenTtlMs), auth, { maxStreams: config.sseMaxStreams }));
  app.use('/api', auth);
  app.get('/metrics', auth, metrics.serve);
  app.use(refuseWritesDuringShutdown(deps.shuttingDown));
  // Before any body is read: a request for an instance another node runs goes there as it came.
  if (cluster) app.use(forwardToOwner({ nodeId: fleet.nodeId, ownerOf: (id) => fleet.journal.read(() => clusterRows.ownerOf(pool, id)), log }));
  // Before the API's body limit: a send carries its media in its body, and parses it itself.
  app.use(messagesRouter(fleet, deps.messages, { mediaMaxMb: config.messageMediaMaxMb }));
  app.use(express.json({ limit: `${config.apiBodyLimitKb}kb` }));
  const openapi = openApiDocument(deps.version);
  app.get('/api/openapi.json', (_req, res) => void res.json(openapi));
  app.use(healthRouter({ ...deps, checks, demo: config.waFleetFakeWeb }));
  app.use(
    instancesRouter(fleet, config, (id) => checks.instanceMemory(id), {
      pool,
      scopedKeys,
      ...(deps.resolveHost ? { resolveHost: deps.resolveHost } : {}),
    }),
  );
  app.use(keysRouter(fleet, pool, scopedKeys));
  app.use(nodesRouter({ fleet, config, cluster, log }));
  app.use(checksRouter(checks, fleet));
  app.use(webhooksRouter(pool, fleet, deps.wakeWebhooks ?? (() => undefined)));
  if (config.waFleetFakeWeb) app.use(demoRouter(fleet, deps.messages));
  app.use(notFound);
  app.use(errorHandler(log));
  return app;
}
