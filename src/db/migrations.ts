import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { ErrorCode, MigrationError } from '../errors/index.js';
import type { Logger } from '../logger/index.js';
import { SESSION_SETUP } from './pool.js';

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

const FILE = /^\d{3,}_[A-Za-z0-9_-]+\.sql$/;
const LOCK = 'wa_fleet_migrations';

/** The numbered `.sql` files of `dir`, in order. */
export function readMigrations(dir: string): Migration[] {
  return readdirSync(dir)
    .filter((f) => FILE.test(f))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10) || a.localeCompare(b))
    .map((name) => {
      const sql = readFileSync(join(dir, name), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

/**
 * Applies pending migrations in order, each in a transaction with its `schema_migrations` row
 * (MySQL commits DDL implicitly, so a failed DDL file may leave partial work: keep one
 * statement's worth of risk per file). Refuses to touch a database that has a migration this
 * code does not know — it was migrated by a newer wa-fleet. An advisory lock keeps two
 * supervisors booting at once from racing.
 */
export async function migrate(url: string, dir: string, log: Logger): Promise<string[]> {
  const migrations = readMigrations(dir);
  const conn = await mysql.createConnection({ uri: url, multipleStatements: true, timezone: 'Z', connectTimeout: 5_000 });
  try {
    await conn.query(SESSION_SETUP);
    await conn.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name VARCHAR(255) NOT NULL PRIMARY KEY,
      checksum CHAR(64) NOT NULL,
      applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
    ) ENGINE=InnoDB`);
    const [lock] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, 60) AS got', [LOCK]);
    if (lock[0]?.got !== 1) throw new MigrationError(ErrorCode.MIGRATION_FAILED, 'could not take the migration lock within 60 s');
    try {
      return await applyPending(conn, migrations, log);
    } finally {
      await conn.query('SELECT RELEASE_LOCK(?)', [LOCK]);
    }
  } finally {
    await conn.end();
  }
}

async function applyPending(conn: mysql.Connection, migrations: Migration[], log: Logger): Promise<string[]> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT name FROM schema_migrations ORDER BY name');
  const applied = new Set(rows.map((r) => r.name as string));
  const known = new Set(migrations.map((m) => m.name));
  const unknown = [...applied].filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new MigrationError(
      ErrorCode.MIGRATION_UNKNOWN,
      `the database has migration ${unknown.join(', ')} that this version of wa-fleet does not know; refusing to migrate (run the newer wa-fleet that applied it, or restore the database)`,
    );
  }
  const done: string[] = [];
  for (const m of migrations.filter((x) => !applied.has(x.name))) {
    log.info(`applying migration ${m.name}`);
    try {
      await conn.beginTransaction();
      await conn.query(m.sql);
      await conn.query('INSERT INTO schema_migrations (name, checksum) VALUES (?, ?)', [m.name, m.checksum]);
      await conn.commit();
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw new MigrationError(ErrorCode.MIGRATION_FAILED, `migration ${m.name} failed: ${(err as Error).message}`, err);
    }
    done.push(m.name);
  }
  return done;
}
