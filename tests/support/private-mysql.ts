import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { PrivateMysql } from '../../scripts/support/private-mysql.js';

export type { PrivateMysql };

/** A private MariaDB in a fresh folder under the test directory (see PrivateMysql). */
export function privateMysql(prefix: string): PrivateMysql {
  return new PrivateMysql(mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? '/tmp', `${prefix}-`)));
}
