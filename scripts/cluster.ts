/**
 * Several wa-fleet nodes on this machine, for newcomers and tests: `npm run cluster -- --nodes 3`
 * starts 3 supervisors as separate processes (built entry, demo mode, CLUSTER=on,
 * SESSION_STORE=mysql), each with its own NODE_ID (node-1 …), port, session folder and log, all on
 * one MariaDB of their own, then prints every dashboard and the API key. Ctrl+C stops every node
 * gracefully (each hands its instances over as it goes) and then MariaDB.
 *
 * Run: npm run build && npm run cluster -- [--nodes 3] [--port 3200] [--dir data/cluster] [--instances 0]
 *
 * `--instances N` creates and links N demo instances (cluster-1 …) once the nodes are up, spread by
 * placement. Kill a node (`kill -9 <pid>`, printed below) and watch its instances move to the
 * others on the dashboard, without a QR. The data folder is kept between runs (`--fresh` wipes it).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CHROME_PATH } from './bench/support/fleet-run.js';
import { parseOptions, requireBuiltSupervisor, runScriptMain, wholeOption } from './support/cli.js';
import { ClusterRun } from './support/cluster-run.js';

function keyOf(dir: string): string {
  const file = join(dir, 'api-key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = randomBytes(24).toString('hex');
  writeFileSync(file, key, { mode: 0o600 });
  return key;
}

async function main(): Promise<number> {
  const { values } = parseOptions(() =>
    parseArgs({
      options: {
        nodes: { type: 'string', default: '3' },
        port: { type: 'string', default: '3200' },
        dir: { type: 'string', default: 'data/cluster' },
        instances: { type: 'string', default: '0' },
        fresh: { type: 'boolean', default: false },
      },
    }),
  );
  const nodes = wholeOption('nodes', values.nodes, 1);
  const basePort = wholeOption('port', values.port, 1);
  const instances = wholeOption('instances', values.instances, 0);
  requireBuiltSupervisor();
  const dir = resolve(values.dir);
  if (values.fresh) rmSync(dir, { recursive: true, force: true });
  const say = (line: string) => process.stderr.write(`» ${line}\n`);
  mkdirSync(dir, { recursive: true });
  const run = await ClusterRun.start({ nodes, dir, chromePath: CHROME_PATH, apiKey: keyOf(dir), basePort }, say);
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping every node (graceful: each hands its instances over), then MariaDB');
    const problems = await run.close();
    for (const p of problems) say(p);
    process.exit(problems.length > 0 ? 1 : code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  if (instances > 0) {
    const ids = Array.from({ length: instances }, (_, i) => `cluster-${i + 1}`);
    const existing = new Set((await run.nodes[0]!.api.instances()).map((i) => i.id));
    const fresh = ids.filter((id) => !existing.has(id));
    say(`creating and linking ${fresh.length} instance(s)`);
    await run.link(fresh);
  }
  const lines = [
    '',
    `  wa-fleet cluster: ${nodes} node(s), demo mode, one MariaDB (${dir}/mysql)`,
    ...run.nodes.map((n) => `  ${n.id}: ${n.url}/   pid ${n.process.pid}   log ${n.logFile}`),
    `  API key: ${run.apiKey}   (also in ${join(dir, 'api-key')})`,
    `  GET /api/nodes on any node lists them; kill -9 a node's pid and its instances move.`,
    '  Ctrl+C stops them all gracefully.',
    '',
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
  // Runs until Ctrl+C; a node that dies is reported once, the others go on.
  const reported = new Set<string>();
  for (;;) {
    await new Promise((r) => setTimeout(r, 2_000));
    for (const n of run.nodes) {
      if (n.process.alive || stopping || reported.has(n.id)) continue;
      reported.add(n.id);
      say(`${n.id} is not running (see ${n.logFile}); its instances move to the others`);
    }
  }
}

runScriptMain('cluster', main);
