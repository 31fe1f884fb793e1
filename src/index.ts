/**
 * wa-fleet as a library: embed the fleet in a host application, subscribe to its events.
 *
 *   const config = loadConfig(process.env);
 *   const pool = createPool({ url: config.mysqlUrl, size: config.mysqlPoolSize });
 *   await migrate(config.mysqlUrl, MIGRATIONS_DIR, log);
 *   const fleet = new Fleet({ config, pool, log });
 *   const off = fleet.events.on('connection.update', (e) => …);
 *   await fleet.start();
 */
export { loadConfig, SETTINGS, type Config } from './config/index.js';
export { migrate } from './db/migrations.js';
export { createPool, type Pool } from './db/pool.js';
export { InstancesRepository } from './db/instances-repository.js';
export * from './domain/instance.js';
export { createLogger, Category, type Logger } from './logger/index.js';
export { MIGRATIONS_DIR } from './paths.js';
export * from './supervisor/event-bus.js';
export { Fleet, type FleetOptions } from './supervisor/fleet.js';
export type { InstanceLive, WorkerLauncher } from './supervisor/instance-handle.js';
