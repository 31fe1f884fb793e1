/**
 * Published runs (docs/runs/) and the README figures made from them.
 *
 *   npm run runs -- publish <data/chaos/…/report.json>   writes docs/runs/chaos-seed<S>-<date>.json
 *   npm run runs -- readme                               rewrites the README's generated blocks
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../src/paths.js';
import { chaosBlock, chaosRuns, publishChaos, RUNS_DIR, withChaosBlock } from './runs/published.js';
import { runScriptMain, UsageError } from './support/cli.js';

async function main(): Promise<number> {
  const [command, file] = process.argv.slice(2);
  const runsDir = join(PACKAGE_ROOT, RUNS_DIR);
  if (command === 'publish') {
    if (!file) throw new UsageError('publish needs the path of a chaos report.json');
    const published = publishChaos(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>);
    const seed = /--seed (\d+)/.exec(published.command)?.[1] ?? 'x';
    const out = join(runsDir, `chaos-seed${seed}-${published.startedAt.slice(0, 10)}.json`);
    writeFileSync(out, `${JSON.stringify(published, null, 2)}\n`);
    process.stdout.write(`wrote ${out}\n`);
    return 0;
  }
  if (command === 'readme') {
    const readmePath = join(PACKAGE_ROOT, 'README.md');
    writeFileSync(readmePath, withChaosBlock(readFileSync(readmePath, 'utf8'), chaosBlock(chaosRuns(runsDir))));
    process.stdout.write('README.md: chaos block regenerated from docs/runs\n');
    return 0;
  }
  throw new UsageError('usage: npm run runs -- publish <report.json> | readme');
}

runScriptMain('runs', main);
