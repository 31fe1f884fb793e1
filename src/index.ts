/**
 * wa-fleet as a library: run the whole supervisor inside a host application, subscribe to its
 * events. The README's "Embedding" section is this, and tests/integration/embedding.test.ts runs it.
 *
 *   const config = loadConfig(process.env);
 *   const supervisor = new Supervisor({ config, log: createLogger({ level: 'info', format: 'json', secrets: secretValues(config) }) });
 *   const off = supervisor.fleet.events.on('connection.update', (e) => …);
 *   await supervisor.start();   // migrations, webhooks, fleet, checks, HTTP API
 *   …
 *   await supervisor.stop();    // reverse order
 */
export { loadConfig, secretValues, SETTINGS, type Config } from './config/index.js';
export { migrate } from './db/migrations.js';
export { createPool, type Pool } from './db/pool.js';
export * from './domain/instance.js';
export { ERRORS, AppError, type ErrorCode } from './errors/index.js';
export { createLogger, Category, type Logger } from './logger/index.js';
export { MIGRATIONS_DIR } from './paths.js';
export * from './supervisor/event-bus.js';
export { Fleet, type FleetOptions } from './supervisor/fleet.js';
export { Journal, type JournalEntry, type Outcome, type Policy } from './supervisor/journal.js';
export { Supervisor, type SupervisorOptions } from './supervisor/supervisor.js';
export type { InstanceLive, WorkerLauncher } from './supervisor/instance/handle.js';
export { Checks } from './checks/checks.js';
export { WebhookDispatcher } from './webhooks/dispatcher.js';
export type { WorkerClient } from './worker/handle.js';
