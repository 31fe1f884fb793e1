import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../src/paths.js';

/** The CommonJS modules a Node process holds after importing `modules` (paths under src/worker). */
function loadedAfterImporting(modules: string[]): string[] {
  const script = [
    "import { createRequire } from 'node:module';",
    ...modules.map((m) => `await import(${JSON.stringify(`${PACKAGE_ROOT}/src/worker/${m}`)});`),
    `console.log(JSON.stringify(Object.keys(createRequire(${JSON.stringify(`${PACKAGE_ROOT}/package.json`)}).cache)));`,
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: PACKAGE_ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`the import failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as string[];
}

const zipLibraries = (loaded: string[]) => loaded.filter((path) => /node_modules\/(archiver|unzipper|fs-extra)\//.test(path) || path.endsWith('authStrategies/RemoteAuth.js'));

describe("the worker's share of whatsapp-web.js", () => {
  it('loads the client without RemoteAuth and its zip libraries, which only SESSION_STORE=mysql needs', () => {
    const loaded = loadedAfterImporting(['driver.ts', 'message-driver.ts']);
    expect(loaded.some((path) => path.endsWith('whatsapp-web.js/src/Client.js'))).toBe(true);
    expect(zipLibraries(loaded)).toEqual([]);
  });

  it('loads them with the session store', () => {
    expect(zipLibraries(loadedAfterImporting(['remote-auth.ts'])).length).toBeGreaterThan(0);
  });
});
