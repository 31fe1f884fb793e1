import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../../src/paths.js';

/**
 * What the footprint bench forks when it measures JavaScript as it runs in production, not
 * TypeScript through the tsx loader, whose hooks cost every module a worker loads (a worker from
 * sources says hello about 400 ms later than the built one on a 2-core machine). The worker is
 * the build's (`npm run build`, as `npm start` runs it); the plain client, a bench fixture, is
 * compiled here with the project's tsc, into a folder inside the package so that it finds
 * whatsapp-web.js in node_modules as an application's code would.
 */
export interface BuiltEntries {
  worker: string;
  plain: string;
  /** Deletes the compiled plain client. */
  remove(): void;
}

const BUILT_WORKER = join(PACKAGE_ROOT, 'dist', 'src', 'worker', 'main.js');
const PLAIN_SOURCE = join(PACKAGE_ROOT, 'scripts', 'bench', 'support', 'plain-client.ts');

export function builtEntries(): BuiltEntries {
  if (!existsSync(BUILT_WORKER)) throw new Error(`${BUILT_WORKER} is missing: run \`npm run build\` first (or pass --from source)`);
  const outDir = join(PACKAGE_ROOT, 'node_modules', '.cache', `wa-fleet-bench-${process.pid}`);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const tsc = join(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  // tsconfig.json's options, given on the command line (tsc ignores tsconfig.json when given files).
  const options = ['--strict', '--lib', 'ES2023,DOM', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2023', '--esModuleInterop', '--skipLibCheck', '--resolveJsonModule', '--types', 'node'];
  execFileSync(process.execPath, [tsc, ...options, '--rootDir', PACKAGE_ROOT, '--outDir', outDir, PLAIN_SOURCE], { stdio: ['ignore', process.stderr, process.stderr] });
  // The fake page the plain client serves is read beside the compiled fake-web.js, as in dist/.
  copyFileSync(join(PACKAGE_ROOT, 'src', 'demo', 'page.html'), join(outDir, 'src', 'demo', 'page.html'));
  return {
    worker: BUILT_WORKER,
    plain: join(outDir, 'scripts', 'bench', 'support', 'plain-client.js'),
    remove: () => rmSync(outDir, { recursive: true, force: true }),
  };
}
