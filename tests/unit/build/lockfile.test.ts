import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../src/paths.js';

interface LockEntry {
  optionalDependencies?: Record<string, string>;
}

/**
 * What `npm ci` refuses as "Missing: <name>@<version> from lock file": an optional dependency
 * (a platform build of rollup, esbuild, …) that some locked package names but the lock does not
 * hold. npm 11 leaves them out when it rewrites a lockfile over an existing node_modules.
 */
function missingOptionals(lock: { packages: Record<string, LockEntry> }): string[] {
  const held = new Set(Object.keys(lock.packages).map((path) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)));
  const missing = new Set<string>();
  for (const entry of Object.values(lock.packages)) {
    for (const name of Object.keys(entry.optionalDependencies ?? {})) if (!held.has(name)) missing.add(name);
  }
  return [...missing].sort();
}

describe('package-lock.json', () => {
  it('holds every optional dependency a locked package names, so npm ci accepts it on any platform', () => {
    const lock = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    expect(Object.keys(lock.packages).length).toBeGreaterThan(100);
    expect(missingOptionals(lock)).toEqual([]);
  });

  it('would catch a lock that left a platform build out', () => {
    const lock = { packages: { '': {}, 'node_modules/rollup': { optionalDependencies: { '@rollup/rollup-linux-x64-gnu': '4.0.0', '@rollup/rollup-darwin-arm64': '4.0.0' } }, 'node_modules/@rollup/rollup-linux-x64-gnu': {} } };
    expect(missingOptionals(lock)).toEqual(['@rollup/rollup-darwin-arm64']);
  });
});
