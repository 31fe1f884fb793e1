import { join } from 'node:path';
import { environmentWithFile, loadConfig, secretValues } from '../config/index.js';
import { Category, createLogger } from '../logger/index.js';
import { MIGRATIONS_DIR } from '../paths.js';
import { migrate } from './migrations.js';

/** `npm run migrate`: applies pending migrations to MYSQL_URL and reports what it did. */
try {
  const config = loadConfig(environmentWithFile(process.env, join(process.cwd(), '.env')), { server: false });
  const log = createLogger({ level: config.logLevel, format: config.logFormat, secrets: secretValues(config) }).child({
    category: Category.DB,
  });
  const applied = await migrate(config.mysqlUrl, MIGRATIONS_DIR, log);
  log.info(applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'database is up to date');
} catch (err) {
  process.stderr.write(`wa-fleet migrate: ${(err as Error).message}\n`);
  process.exit(1);
}
