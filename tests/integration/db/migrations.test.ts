import { mkdtempSync, readdirSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, readMigrations } from '../../../src/db/migrations.js';
import { MIGRATIONS_DIR } from '../../../src/paths.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { silentLogger } from '../../support/logger.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

async function tables(): Promise<string[]> {
  const [rows] = await db.pool.query<RowDataPacket[]>('SHOW TABLES');
  return rows.map((r) => String(Object.values(r)[0])).sort();
}

describe('migrate', () => {
  it('creates the schema and records every migration', async () => {
    const applied = await migrate(db.url, MIGRATIONS_DIR, silentLogger);
    expect(applied).toEqual(readMigrations(MIGRATIONS_DIR).map((m) => m.name));
    expect(await tables()).toEqual(['api_keys', 'inbound_messages', 'instance_events', 'instances', 'nodes', 'outbound_media', 'outbound_messages', 'schema_migrations', 'session_backup_chunks', 'session_backups', 'webhook_outbox']);
  });

  it('changes nothing when applied a second time', async () => {
    const [before] = await db.pool.query<RowDataPacket[]>('SELECT name, applied_at FROM schema_migrations ORDER BY name');
    expect(await migrate(db.url, MIGRATIONS_DIR, silentLogger)).toEqual([]);
    const [after] = await db.pool.query<RowDataPacket[]>('SELECT name, applied_at FROM schema_migrations ORDER BY name');
    expect(after).toEqual(before);
  });

  it('limits connection_status to the seven statuses', async () => {
    await db.pool.query("INSERT INTO instances (id, connection_status) VALUES ('ok-1', 'LOADING')");
    await expect(db.pool.query("INSERT INTO instances (id, connection_status) VALUES ('bad-1', 'WORKING')")).rejects.toThrow();
  });

  it('applies a new migration from the folder and only that one', async () => {
    const dir = mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? '/tmp', 'migrations-'));
    for (const f of readdirSync(MIGRATIONS_DIR)) copyFileSync(join(MIGRATIONS_DIR, f), join(dir, f));
    writeFileSync(join(dir, '900_extra.sql'), 'CREATE TABLE extra_table (id INT PRIMARY KEY);');
    expect(await migrate(db.url, dir, silentLogger)).toEqual(['900_extra.sql']);
    expect(await tables()).toContain('extra_table');
  });

  it('refuses a database that has a migration it does not know, saying which', async () => {
    await db.pool.query("INSERT INTO schema_migrations (name, checksum) VALUES ('999_from_the_future.sql', REPEAT('0', 64))");
    await expect(migrate(db.url, MIGRATIONS_DIR, silentLogger)).rejects.toMatchObject({
      code: 'MIGRATION_UNKNOWN',
      message: expect.stringContaining('999_from_the_future.sql'),
    });
  });
});
