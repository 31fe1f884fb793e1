/**
 * Writes `.env.example` from the settings table in src/config/settings.ts, so the example and
 * the code cannot drift (a unit test also checks them against each other).
 * Run: npx tsx scripts/gen-env-example.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS } from '../src/config/settings.js';
import { PACKAGE_ROOT } from '../src/paths.js';

const lines = [
  '# wa-fleet settings. Copy to .env (the quick start does) and change what you need;',
  '# variables exported in the environment win over this file. Each value shown is the default.',
  '',
];
for (const [name, spec] of Object.entries(SETTINGS)) {
  lines.push(`# ${spec.doc}`, `${name}=${spec.default}`, '');
}
writeFileSync(join(PACKAGE_ROOT, '.env.example'), lines.join('\n'));
process.stdout.write(`wrote .env.example with ${Object.keys(SETTINGS).length} settings\n`);
