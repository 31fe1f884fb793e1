/**
 * How fast the REST API answers its read routes with a fleet of `--instances` instances: a
 * loopback autocannon load on `GET /api/health`, `GET /api/memory/report` and
 * `GET /api/instance/:id/details` (cycling through every instance id), one route after the
 * other, each for `--duration` seconds over `--connections` connections. Prints a markdown table
 * on stdout (requests/s, latency p50 / p99, requests, non-2xx, errors, status codes per route)
 * and its progress on stderr.
 *
 * Run: npx tsx scripts/bench/api.ts [--instances 100] [--duration 10] [--connections 10] [--warmup 2]
 *
 * Each route first gets `--warmup` seconds of the same load, not measured: the first requests
 * pay for JIT compilation and for opening the pool's connections, which a running server has
 * long done.
 *
 * The fleet is real (src/supervisor/fleet.ts, the status writer, a throwaway database on
 * MYSQL_URL with the product's pool size) but its workers are the light stand-ins of the tests
 * (same protocol, no browser): half the instances linked, half waiting at their QR. The express
 * app is the real one, served on 127.0.0.1 only. autocannon runs in a worker thread, beside
 * the server's event loop but on the same two cores as the server, the database and whatever
 * else the machine runs: the load average is printed with the table because it moves every figure.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sleep, withTimeout } from '../../lib/timeout.js';
import { Checks } from '../../src/checks/checks.js';
import { checkSettings } from '../../src/checks/settings.js';
import { createApp } from '../../src/api/app.js';
import { closeServer, listen } from '../../src/api/server.js';
import { secretValues } from '../../src/config/index.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createLogger } from '../../src/logger/index.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { Fleet } from '../../src/supervisor/fleet.js';
import { createTestDatabase, type TestDatabase } from '../../tests/support/db.js';
import { standInLauncher, testConfig } from '../../tests/support/fleet.js';
import { killProcessesOfRun, markChildrenOfThisRun } from './support/cleanup.js';
import { chromiumProcessCount, describeError, LoadWatch, machineFacts, progress } from './support/machine.js';
import { populateFleet } from './support/populate.js';
import { startRouteLoad, type RouteLoad, type RouteLoadOptions, type RunningLoad } from './support/route-load.js';
import { describeStatusCodes, routeTable, type RouteRow } from './support/route-report.js';
import { Messages } from '../../src/messages/messages.js';

const CHROME_PATH = process.env.CHROME_PATH ?? '/usr/bin/chromium';
/** A response slower than this counts as an autocannon timeout; it also bounds each load's tail. */
const REQUEST_TIMEOUT_SEC = 10;
/** Stand-in workers starting at once while the fleet is filled. */
const START_LANES = 4;
const STATUS_TIMEOUT_MS = 60_000;
const FLEET_STOP_TIMEOUT_MS = 30_000;
/** Busy keep-alive connections can hold a graceful close open; past this they are cut. */
const SERVER_CLOSE_TIMEOUT_MS = 5_000;
/** The server's idle sockets and the database get a moment between two routes' loads. */
const BETWEEN_ROUTES_MS = 1_000;

interface Options {
  instances: number;
  durationSec: number;
  warmupSec: number;
  connections: number;
}

interface Route {
  name: string;
  paths: (ids: readonly string[]) => string[];
}

/** Every other instance is linked; the rest wait at their QR. */
const isLinked = (index: number): boolean => index % 2 === 0;

const ROUTES: readonly Route[] = [
  { name: 'GET /api/health', paths: () => ['/api/health'] },
  { name: 'GET /api/memory/report', paths: () => ['/api/memory/report'] },
  { name: 'GET /api/instance/:id/details', paths: (ids) => ids.map((id) => `/api/instance/${id}/details`) },
];

function wholeNumber(name: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number >= ${min}, got ${text}`);
  return value;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      instances: { type: 'string', default: '100' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '10' },
    },
    strict: true,
  });
  return {
    instances: wholeNumber('instances', values.instances, 1),
    durationSec: wholeNumber('duration', values.duration, 1),
    warmupSec: wholeNumber('warmup', values.warmup, 0),
    connections: wholeNumber('connections', values.connections, 1),
  };
}

function packageVersion(name: string): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** Everything the run started, filled in as it goes, so the cleanup stops exactly what exists. */
interface Started {
  db?: TestDatabase;
  pool?: Pool;
  fleet?: Fleet;
  server?: Server;
  load?: RunningLoad;
}

async function cleanUp(started: Started, marker: string, workDir: string): Promise<void> {
  const step = async (what: string, work: () => Promise<unknown>) => {
    await work().catch((err: unknown) => progress(`cleanup: ${what}: ${describeError(err)}`));
  };
  started.load?.stop();
  const { server } = started;
  if (server) {
    await step('close the server', () =>
      withTimeout(closeServer(server), SERVER_CLOSE_TIMEOUT_MS, 'server close').catch((err: unknown) => {
        server.closeAllConnections();
        throw err;
      }),
    );
  }
  if (started.fleet) await step('stop the fleet', () => withTimeout(started.fleet!.stop(), FLEET_STOP_TIMEOUT_MS, 'fleet stop'));
  const survivors = await killProcessesOfRun(marker);
  if (survivors.length > 0) progress(`cleanup: could not kill ${survivors.map((p) => `${p.pid} ${p.cmdline.slice(0, 80)}`).join('; ')}`);
  if (started.pool) await step('close the pool', () => started.pool!.end());
  if (started.db) await step(`drop database ${started.db.name}`, () => started.db!.drop());
  rmSync(workDir, { recursive: true, force: true });
  progress('cleaned up');
}

/** One load, known to the cleanup while it runs so that Ctrl+C can stop it. */
async function runLoad(started: Started, options: RouteLoadOptions): Promise<RouteLoad> {
  const running = (started.load = startRouteLoad(options));
  try {
    return await running.done;
  } finally {
    started.load = undefined;
  }
}

/** A throwaway database, a fleet of stand-ins on it (half linked), and the real app serving them on loopback. */
async function setUp(started: Started, ids: readonly string[], workDir: string, shuttingDown: () => boolean) {
  const db = (started.db = await createTestDatabase({ migrated: true }));
  progress(`database ${db.name} on ${new URL(db.url).host}`);
  const config = testConfig(db.url, join(workDir, 'sessions'));
  const pool = (started.pool = createPool({ url: db.url, size: config.mysqlPoolSize }));
  const log = createLogger({ level: 'warn', format: 'pretty', secrets: secretValues(config), stream: process.stderr });
  const fleet = (started.fleet = new Fleet({ config, pool, log, launch: standInLauncher }));
  await fleet.start();

  progress(`creating ${ids.length} stand-in instances, linking half of them`);
  const { deadlockedCreations } = await populateFleet(fleet, ids, {
    linked: isLinked,
    lanes: START_LANES,
    statusTimeoutMs: STATUS_TIMEOUT_MS,
    onProgress: (done, total) => done % 10 === 0 && progress(`instances ready: ${done}/${total}`),
  });
  if (deadlockedCreations > 0) progress(`${deadlockedCreations} creation(s) deadlocked in the database and were tried again`);

  const checks = new Checks({ fleet, log, settings: checkSettings(config) });
  const app = createApp({ pool, fleet, checks, config, log, version: 'bench', startedAt: new Date(), shuttingDown, messages: new Messages({ fleet: fleet, pool: pool, config: config, log: log }) });
  const server = (started.server = await listen(app, '127.0.0.1', 0));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  progress(`serving on ${baseUrl}`);
  return { baseUrl, config, deadlockedCreations };
}

/** Warm-up, then the measured load, route after route; a route that fails gets an empty row. */
async function measureRoutes(
  started: Started,
  opts: Options,
  ids: readonly string[],
  base: Omit<RouteLoadOptions, 'paths' | 'durationSec'>,
  stopping: () => boolean,
): Promise<RouteRow[]> {
  const rows: RouteRow[] = [];
  for (const route of ROUTES) {
    if (stopping()) break;
    const load = (durationSec: number) => runLoad(started, { ...base, paths: route.paths(ids), durationSec });
    try {
      if (opts.warmupSec > 0) {
        progress(`${route.name}: warming up for ${opts.warmupSec} s`);
        await load(opts.warmupSec);
      }
      progress(`${route.name}: ${opts.connections} connections for ${opts.durationSec} s`);
      const result = await load(opts.durationSec);
      rows.push({ route: route.name, load: result });
      progress(`${route.name}: ${Math.round(result.requestsPerSec)} requests/s, status codes ${describeStatusCodes(result.statusCodes)}`);
      if (result.non2xx + result.errors > 0) progress(`${route.name}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
    } catch (err) {
      if (stopping()) break;
      process.exitCode = 1;
      rows.push({ route: route.name, load: null });
      progress(`${route.name}: FAILED: ${describeError(err)}`);
    }
    await sleep(BETWEEN_ROUTES_MS);
  }
  return rows;
}

async function main(): Promise<void> {
  const opts = options();
  const marker = markChildrenOfThisRun();
  const load = new LoadWatch();
  const machine = machineFacts(CHROME_PATH, chromiumProcessCount());
  progress(`${machine.replaceAll('\n', '; ')}; load average ${load.atStart}`);
  const workDir = mkdtempSync(join(tmpdir(), 'wa-fleet-api-bench-'));
  const started: Started = {};
  let cleaning: Promise<void> | null = null;
  const stopping = () => cleaning !== null;
  const cleanUpOnce = () => (cleaning ??= cleanUp(started, marker, workDir));
  // Stand-in workers lead their own process groups, so a Ctrl+C reaches this process only. `on`,
  // not `once`: tsx relays the signal a second time, and a second one meeting no listener would
  // end this process in the middle of its cleanup.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (cleaning) return progress(`${signal}: already cleaning up`);
      progress(`${signal}: stopping every process of this run`);
      void cleanUpOnce().finally(() => process.exit(130));
    });
  }

  try {
    const ids = Array.from({ length: opts.instances }, (_, i) => `bench-${String(i + 1).padStart(3, '0')}`);
    const { baseUrl, config, deadlockedCreations } = await setUp(started, ids, workDir, stopping);
    const rows = await measureRoutes(
      started,
      opts,
      ids,
      { baseUrl, headers: { 'x-api-key': config.apiKey ?? '' }, connections: opts.connections, timeoutSec: REQUEST_TIMEOUT_SEC },
      stopping,
    );
    if (stopping()) return;
    const linked = ids.filter((_, i) => isLinked(i)).length;
    process.stdout.write(
      [
        machine,
        `Load: ${load.summary()}`,
        `Fleet: ${ids.length} stand-in instances (${linked} CONNECTED, ${ids.length - linked} at QR_REQUIRED), MySQL pool of ${config.mysqlPoolSize}; ` +
          `autocannon ${packageVersion('autocannon')} in a worker thread of the server's process, ${opts.connections} connections, ` +
          `${opts.durationSec} s per route after ${opts.warmupSec} s of warm-up, X-API-Key sent`,
        '',
        routeTable(rows),
        '',
        'requests/s: mean of the per-second samples. Latency percentiles over every response, whatever its status. ' +
          `\`/api/instance/:id/details\`: each connection walks through the ${ids.length} instance ids in turn.`,
        `While the fleet was filled, ${deadlockedCreations} instance creation(s) deadlocked in the database and were tried again.`,
        '',
      ].join('\n'),
    );
  } finally {
    await cleanUpOnce();
  }
}

await main();
