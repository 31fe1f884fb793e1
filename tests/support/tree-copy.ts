import { chmodSync, cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';

const SKIP_TOP = new Set(['node_modules', 'dist', 'data', '.git', 'test-artifacts', '.env']);

/**
 * A copy of the working tree (node_modules linked, not copied) for a test that builds or runs a
 * script that builds: other test files run the real dist/src/main.js at the same time, so the
 * real dist/ is never rebuilt or deleted. Timestamps are kept, so the lockfile is not newer than
 * the installed packages and no script reinstalls them through the link.
 */
export function copyTree(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? tmpdir(), `${prefix}-`));
  // As a clone is (mkdtemp makes 0700): a root supervisor's workers must pass through to data/.
  chmodSync(dir, 0o755);
  cpSync(PACKAGE_ROOT, dir, {
    recursive: true,
    preserveTimestamps: true,
    filter: (src) => !SKIP_TOP.has(relative(PACKAGE_ROOT, src).split(sep)[0]!),
  });
  symlinkSync(join(PACKAGE_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
