import { join } from 'node:path';
import { closeServer, listen } from './api/server.js';
import { Checks } from './checks/checks.js';
import { checkSettings } from './checks/settings.js';
import { createApp } from './api/app.js';
import { environmentWithFile, loadConfig, secretValues, type Config } from './config/index.js';
import { migrate } from './db/migrations.js';
import { createPool } from './db/pool.js';
import { waitForDatabase } from './db/wait.js';
import { Category, createLogger } from './logger/index.js';
import { MIGRATIONS_DIR, VERSION } from './paths.js';
import { Fleet } from './supervisor/fleet.js';
import { Shutdown } from './supervisor/shutdown.js';
import { WebhookDispatcher } from './webhooks/dispatcher.js';

function configOrExit(): Config {
  try {
    return loadConfig(environmentWithFile(process.env, join(process.cwd(), '.env')));
  } catch (err) {
    process.stderr.write(`wa-fleet: invalid setting ${(err as Error).message}\n`);
    process.exit(1);
  }
}

const config = configOrExit();
const log = createLogger({ level: config.logLevel, format: config.logFormat, file: config.logFile, secrets: secretValues(config) });
const system = log.child({ category: Category.SYSTEM });
const shutdown = new Shutdown({ timeoutMs: config.shutdownTimeoutMs, log: system });
shutdown.install();

try {
  const pool = createPool({ url: config.mysqlUrl, size: config.mysqlPoolSize });
  const db = log.child({ category: Category.DB });
  await waitForDatabase(pool, config.dbRetryIntervalMs, db);
  if (config.migrateOnStart) await migrate(config.mysqlUrl, MIGRATIONS_DIR, db);

  const fleet = new Fleet({ config, pool, log });
  const webhooks = new WebhookDispatcher({
    pool,
    log: log.child({ category: Category.WEBHOOK }),
    secret: config.webhookSecret,
    maxAttempts: config.webhookMaxAttempts,
    baseDelayMs: config.webhookBaseDelayMs,
    timeoutMs: config.webhookTimeoutMs,
  });
  // Every fleet event has just queued its notifications: deliver them now, not at the next poll.
  fleet.events.onAny(() => webhooks.wake());
  const checks = new Checks({ fleet, log, settings: checkSettings(config) });
  const app = createApp({ pool, fleet, config, log, version: VERSION, startedAt: new Date(), shuttingDown: () => shutdown.inProgress, wakeWebhooks: () => webhooks.wake(), webhookStats: () => webhooks.stats(), checks });
  const server = await listen(app, config.host, config.port);
  // The loops stop first: no recovery may start a worker the fleet's stop has just stopped.
  shutdown.add({ name: 'checks', run: () => checks.stop() });
  // The API keeps answering reads (and refusing writes with 503) while the fleet stops.
  shutdown.add({ name: 'fleet', run: () => fleet.stop() });
  shutdown.add({ name: 'webhooks', run: (left) => webhooks.stop(Math.min(left, 3_000)) });
  shutdown.add({ name: 'http server', run: () => closeServer(server) });
  shutdown.add({ name: 'database pool', run: () => pool.end() });

  webhooks.start();
  await fleet.start();
  checks.start();
  system.info(`wa-fleet listening on http://${config.host}:${config.port}`);
  // PM2 `wait_ready`: online once the API answers and rehydration has been scheduled.
  process.send?.('ready');
} catch (err) {
  system.error(`startup failed: ${(err as Error).message}`);
  await shutdown.run('startup failure', 1);
}
