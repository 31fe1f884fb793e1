import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { migrate } from '../../src/db/migrations.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { MIGRATIONS_DIR } from '../../src/paths.js';
import { FleetEventBus } from '../../src/supervisor/event-bus.js';
import { creation, Journal } from '../../src/supervisor/journal.js';
import { silentLogger } from './logger.js';

/** The server the suite runs against: scripts/test.sh exports the one ensure-mysql.sh found. */
export function serverUrl(): string {
  return process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
}

export interface TestDatabase {
  name: string;
  url: string;
  /** A pool on the database; closed by drop(). */
  pool: Pool;
  drop(): Promise<void>;
}

async function admin<T>(work: (conn: mysql.Connection) => Promise<T>): Promise<T> {
  const url = new URL(serverUrl());
  url.pathname = '/';
  const conn = await mysql.createConnection({ uri: url.toString() });
  try {
    return await work(conn);
  } finally {
    await conn.end();
  }
}

/** A fresh, empty database for one test file (optionally migrated); drop it in afterAll. */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `wafleet_t_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE \`${name}\``));
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  if (options.migrated) await migrate(url.toString(), MIGRATIONS_DIR, silentLogger);
  const pool = createPool({ url: url.toString(), size: 5 });
  return {
    name,
    url: url.toString(),
    pool,
    drop: async () => {
      await pool.end().catch(() => undefined);
      await admin((c) => c.query(`DROP DATABASE IF EXISTS \`${name}\``));
    },
  };
}

/** Creates instance rows (enabled, no webhook) the way the fleet does, through the journal. */
export async function seedInstances(pool: Pool, ids: readonly string[]): Promise<void> {
  const journal = new Journal({ pool, bus: new FleetEventBus({ onListenerError: () => undefined }), log: silentLogger });
  for (const id of ids) await journal.record(creation(id, { enabled: true, webhookUrl: null }), 'refuse');
  journal.close();
}
