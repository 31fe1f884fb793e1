/**
 * How fast the REST API answers its read routes with a fleet of `--instances` instances, next to
 * a trivial express route on the same machine as the floor: a loopback autocannon load on
 * `GET /trivial` (a bare express app, `res.json({ ok: true })`, in this same process on a port of
 * its own), `GET /api/health`, `GET /api/memory/report`, `GET /api/instances` (the list),
 * `GET /api/instance/:id/details` (cycling through every instance id), then `GET /trivial` again
 * so that a drift of the machine's load over the run shows; one route after the other, each for
 * `--duration` seconds over `--connections` connections. Prints a markdown table on stdout
 * (requests/s, latency p50 / p99 / p99.9 / max, requests, non-2xx, errors, status codes and the
 * verdict `p99 ≤ 10 ms` per route) and its progress on stderr. Exits 1 when any of health, memory
 * report, list or details misses the verdict (p99 over 10 ms, any non-2xx, error or timeout);
 * the trivial route is the floor, shown with its verdict but not judged.
 *
 * Run: npx tsx scripts/bench/api.ts [--instances 100] [--duration 10] [--connections 10] [--rate N] [--warmup 2] [--settle 10] [--pin auto|off]
 *        [--only health,memory,list,details]
 *
 * Without `--rate` the load is a closed loop: each connection sends again as soon as it is
 * answered, so the server runs flat out and latency is mostly time queued behind the other
 * connections (throughput). `--rate N` paces each route's load at N requests/s over all
 * connections, open loop (scripts/bench/support/paced-load.ts: each request timed from when it
 * was due, so waiting for a busy server counts): the latency of an API serving N requests/s. A
 * paced route that serves under 95 % of N misses the verdict whatever its latency.
 *
 * Each route first gets `--warmup` seconds of the same load, not measured: the first requests
 * pay for JIT compilation and for opening the pool's connections, which a running server has
 * long done. Before the first, the fleet gets `--settle` seconds: the stand-ins' own start-up
 * work goes on for seconds after they report their status. The check loops run at their default
 * intervals throughout, as under `npm start`; GC pauses and the main thread's wait for a core
 * are printed per route (support/server-pauses.ts).
 *
 * The fleet is real (src/supervisor/fleet.ts, the status writer, a throwaway database on
 * MYSQL_URL with the product's pool size) but its workers are the light stand-ins of the tests
 * (same protocol, no browser): half the instances linked, half waiting at their QR. The express
 * app is the real one, served on 127.0.0.1 only. autocannon runs in a process of its own
 * (scripts/bench/support/api-load.ts, started afresh for each load). With `--pin auto` (the
 * default) and `taskset` present on a machine of 2 cores or more, once the fleet is filled every
 * thread of this process (both servers) is pinned to core 0 and each load generator to core 1:
 * the two never share a core, though the database and whatever else the machine runs still go
 * where the kernel puts them. The load average is printed with the table because it moves every
 * figure; the trivial route measured in the same run is the reference.
 */
import express from 'express';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
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
import { watchServerPauses } from './support/server-pauses.js';
import { affinityOf, pinProcess, startRouteLoad, tasksetAvailable, type RouteLoad, type RouteLoadOptions, type RunningLoad } from './support/route-load.js';
import { describeStatusCodes, failures, P99_LIMIT_MS, routeTable, SERVED_SHARE_MIN, verdict, type RouteRow } from './support/route-report.js';
import { Messages } from '../../src/messages/messages.js';

const CHROME_PATH = process.env.CHROME_PATH ?? '/usr/bin/chromium';
/** A response slower than this counts as an autocannon timeout; it also bounds each load's tail. */
const REQUEST_TIMEOUT_SEC = 10;
/** Stand-in workers starting at once while the fleet is filled. */
const START_LANES = 4;
/** Generous: on a shared 2-core machine a stand-in's start can queue behind other work for long. */
const STATUS_TIMEOUT_MS = 180_000;
const FLEET_STOP_TIMEOUT_MS = 30_000;
/** Busy keep-alive connections can hold a graceful close open; past this they are cut. */
const SERVER_CLOSE_TIMEOUT_MS = 5_000;
/** The server's idle sockets and the database get a moment between two routes' loads. */
const BETWEEN_ROUTES_MS = 1_000;

interface Options {
  instances: number;
  durationSec: number;
  warmupSec: number;
  /** `--settle`: seconds between filling the fleet and the first load, for the stand-ins' own start-up work to end. */
  settleSec: number;
  connections: number;
  /** `--rate`: requests per second each route's load is paced at; null: closed loop, each connection as fast as answers come. */
  rate: number | null;
  /** `auto`: pin when taskset exists and there are 2 cores or more; `off`: never. */
  pin: 'auto' | 'off';
  /** The API routes to measure (keys of ROUTES); the floor is measured first and last whatever this says. */
  only: ReadonlySet<string>;
}

interface Route {
  /** The key `--only` names it by. */
  key: string;
  name: string;
  /** Which server answers it: the real app, or the bare one of the floor. */
  server: 'app' | 'trivial';
  paths: (ids: readonly string[]) => string[];
}

/** The cores of the server (this process) and of the load generator when pinned. */
const SERVER_CPU = '0';
const LOAD_CPU = '1';

/** FLEET_MEMORY_CAP_MB for the run: 256 MB per stand-in, never under the default 2048. */
const fleetCapMb = (instances: number): number => Math.max(2048, instances * 256);

/** Every other instance is linked; the rest wait at their QR. */
const isLinked = (index: number): boolean => index % 2 === 0;

const TRIVIAL: Route = { key: 'trivial', name: 'GET /trivial (floor)', server: 'trivial', paths: () => ['/trivial'] };

/** The floor first and last: a machine whose load moved during the run shows it there. */
const ROUTES: readonly Route[] = [
  TRIVIAL,
  { key: 'health', name: 'GET /api/health', server: 'app', paths: () => ['/api/health'] },
  { key: 'memory', name: 'GET /api/memory/report', server: 'app', paths: () => ['/api/memory/report'] },
  { key: 'list', name: 'GET /api/instances', server: 'app', paths: () => ['/api/instances'] },
  { key: 'details', name: 'GET /api/instance/:id/details', server: 'app', paths: (ids) => ids.map((id) => `/api/instance/${id}/details`) },
  TRIVIAL,
];

function wholeNumber(name: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number >= ${min}, got ${text}`);
  return value;
}

function fail(message: string): never {
  throw new Error(message);
}

function routeKeys(text: string): Set<string> {
  const keys = new Set(text.split(',').map((k) => k.trim()).filter(Boolean));
  const known = new Set(ROUTES.map((r) => r.key));
  for (const k of keys) if (!known.has(k)) fail(`--only takes a comma-separated list of ${[...known].filter((r) => r !== 'trivial').join(', ')}; got ${k}`);
  return keys;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      instances: { type: 'string', default: '100' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      settle: { type: 'string', default: '10' },
      connections: { type: 'string', default: '10' },
      rate: { type: 'string' },
      pin: { type: 'string', default: 'auto' },
      only: { type: 'string', default: 'health,memory,list,details' },
    },
    strict: true,
  });
  return {
    instances: wholeNumber('instances', values.instances, 1),
    durationSec: wholeNumber('duration', values.duration, 1),
    warmupSec: wholeNumber('warmup', values.warmup, 0),
    settleSec: wholeNumber('settle', values.settle, 0),
    connections: wholeNumber('connections', values.connections, 1),
    rate: values.rate === undefined ? null : wholeNumber('rate', values.rate, 1),
    pin: values.pin === 'off' ? 'off' : values.pin === 'auto' ? 'auto' : fail(`--pin must be auto or off, got ${values.pin}`),
    only: routeKeys(values.only),
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
  checks?: Checks;
  server?: Server;
  trivial?: Server;
  load?: RunningLoad;
}

async function cleanUp(started: Started, marker: string, workDir: string): Promise<void> {
  const step = async (what: string, work: () => Promise<unknown>) => {
    await work().catch((err: unknown) => progress(`cleanup: ${what}: ${describeError(err)}`));
  };
  started.load?.stop();
  for (const [what, server] of [['the server', started.server], ['the trivial server', started.trivial]] as const) {
    if (!server) continue;
    await step(`close ${what}`, () =>
      withTimeout(closeServer(server), SERVER_CLOSE_TIMEOUT_MS, 'server close').catch((err: unknown) => {
        server.closeAllConnections();
        throw err;
      }),
    );
  }
  if (started.checks) await step('stop the check loops', () => withTimeout(started.checks!.stop(), FLEET_STOP_TIMEOUT_MS, 'check loops stop'));
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
  // The fleet's memory cap is sized for browsers; a stand-in costs tens of MB without one, and at
  // the default 2048 MB the start gate holds the ~70th start back for good. Room for every one.
  const config = testConfig(db.url, join(workDir, 'sessions'), { FLEET_MEMORY_CAP_MB: String(fleetCapMb(ids.length)) });
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

  // The check loops run at their default intervals, as under `npm start`: what a user's API shares its event loop with.
  const checks = (started.checks = new Checks({ fleet, log, settings: checkSettings(config) }));
  checks.start();
  const app = createApp({ pool, fleet, checks, config, log, version: 'bench', startedAt: new Date(), shuttingDown, messages: new Messages({ fleet: fleet, pool: pool, config: config, log: log }) });
  const server = (started.server = await listen(app, '127.0.0.1', 0));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The floor: a bare express app, no middleware, one constant JSON answer, on the same event loop.
  const bare = express();
  bare.get('/trivial', (_req, res) => res.json({ ok: true }));
  const trivial = (started.trivial = await listen(bare, '127.0.0.1', 0));
  const trivialUrl = `http://127.0.0.1:${(trivial.address() as AddressInfo).port}`;
  progress(`serving on ${baseUrl}, the trivial route on ${trivialUrl}`);
  return { baseUrl, trivialUrl, config, deadlockedCreations };
}

/**
 * `--pin auto`: this process (every thread: both servers' event loop, GC, libuv) to SERVER_CPU and
 * each load generator to LOAD_CPU, when taskset exists and there are two cores or more. Done
 * after the fleet is filled, so the stand-in workers forked before keep every core. Returns the
 * load generator's cores (null: unpinned) and what to print about it.
 */
function pinning(opts: Options): { loadCpus: string | null; described: string } {
  if (opts.pin === 'off') return { loadCpus: null, described: 'not pinned (--pin off)' };
  if (cpus().length < 2) return { loadCpus: null, described: 'not pinned (fewer than 2 cores)' };
  if (!tasksetAvailable()) return { loadCpus: null, described: 'not pinned (no taskset)' };
  try {
    const server = pinProcess(process.pid, SERVER_CPU);
    return { loadCpus: LOAD_CPU, described: `server process pinned to core ${server} (every thread, taskset -a -p), load generator to core ${LOAD_CPU} (taskset -c)` };
  } catch (err) {
    progress(`could not pin this process: ${describeError(err)}; the load generator is not pinned either`);
    return { loadCpus: null, described: `not pinned (${describeError(err)}); server on cores ${affinityOf(process.pid)}` };
  }
}

/** Warm-up, then the measured load, route after route; a route that fails gets an empty row. */
async function measureRoutes(
  started: Started,
  opts: Options,
  ids: readonly string[],
  base: Omit<RouteLoadOptions, 'paths' | 'durationSec' | 'baseUrl'>,
  urls: Record<Route['server'], string>,
  stopping: () => boolean,
): Promise<RouteRow[]> {
  const rows: RouteRow[] = [];
  for (const route of ROUTES.filter((r) => r.key === 'trivial' || opts.only.has(r.key))) {
    if (stopping()) break;
    const judged = route.server === 'app';
    const rate = opts.rate ?? undefined;
    const load = (durationSec: number) => runLoad(started, { ...base, ...(rate ? { rate } : {}), baseUrl: urls[route.server], paths: route.paths(ids), durationSec });
    try {
      if (opts.warmupSec > 0) {
        progress(`${route.name}: warming up for ${opts.warmupSec} s`);
        await load(opts.warmupSec);
      }
      progress(`${route.name}: ${opts.connections} connections${rate ? ` paced at ${rate} requests/s` : ''} for ${opts.durationSec} s`);
      const loopDelay = monitorEventLoopDelay({ resolution: 1 });
      loopDelay.enable();
      const pauses = watchServerPauses();
      const cpuBefore = process.cpuUsage();
      const result = await load(opts.durationSec);
      const cpu = process.cpuUsage(cpuBefore);
      const seen = pauses.stop();
      loopDelay.disable();
      const row: RouteRow = {
        route: route.name,
        judged,
        load: result,
        ...(rate ? { rate } : {}),
        serverCpuUs: (cpu.user + cpu.system) / Math.max(1, result.total),
        loopDelayMs: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
        pauses: seen,
      };
      rows.push(row);
      progress(
        `${route.name}: ${Math.round(result.requestsPerSec)} requests/s, p99 ${result.latencyP99Ms} ms, status codes ${describeStatusCodes(result.statusCodes)}; p99 ≤ ${P99_LIMIT_MS} ms: ${verdict(row)}`,
      );
      if (result.non2xx + result.errors > 0) progress(`${route.name}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
    } catch (err) {
      if (stopping()) break;
      process.exitCode = 1;
      rows.push({ route: route.name, judged, load: null, serverCpuUs: null, loopDelayMs: null });
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
    const { baseUrl, trivialUrl, config, deadlockedCreations } = await setUp(started, ids, workDir, stopping);
    const pin = pinning(opts);
    progress(pin.described);
    if (opts.settleSec > 0) {
      // Stand-ins keep a core busy for seconds after they report their status (module loading, JIT):
      // measured at once, the first floor would be theirs.
      progress(`letting the fleet settle for ${opts.settleSec} s`);
      await sleep(opts.settleSec * 1000);
    }
    const rows = await measureRoutes(
      started,
      opts,
      ids,
      { headers: { 'x-api-key': config.apiKey ?? '' }, connections: opts.connections, timeoutSec: REQUEST_TIMEOUT_SEC, cpus: pin.loadCpus },
      { app: baseUrl, trivial: trivialUrl },
      stopping,
    );
    if (stopping()) return;
    const missed = failures(rows);
    if (missed.length > 0) {
      process.exitCode = 1;
      progress(`p99 ≤ ${P99_LIMIT_MS} ms missed by: ${missed.map((r) => `${r.route} (${verdict(r)})`).join('; ')}`);
    }
    const linked = ids.filter((_, i) => isLinked(i)).length;
    process.stdout.write(
      [
        machine,
        `Load: ${load.summary()}`,
        `Fleet: ${ids.length} stand-in instances (${linked} CONNECTED, ${ids.length - linked} at QR_REQUIRED), MySQL pool of ${config.mysqlPoolSize}, FLEET_MEMORY_CAP_MB=${config.fleetMemoryCapMb}, ` +
          `check loops running at their default intervals, ${opts.settleSec} s of settling before the first load; ` +
          `${opts.rate ? 'the open-loop generator of scripts/bench/support/paced-load.ts' : `autocannon ${packageVersion('autocannon')}`} in a process of its own per load, ` +
          `${opts.rate ? 'at most ' : ''}${opts.connections} connections, ` +
          (opts.rate
            ? `open loop paced at ${opts.rate} requests/s per route (each request timed from when it was due, waiting for a free connection included), `
            : 'closed loop (each connection sends again as soon as it is answered), ') +
          `${opts.durationSec} s per route after ${opts.warmupSec} s of warm-up, X-API-Key sent (to the trivial route too, which ignores it)`,
        `Pinning: ${pin.described}`,
        '',
        routeTable(rows),
        '',
        'requests/s: mean of the per-second samples. Latency percentiles over every response, whatever its status, ' +
          (opts.rate ? 'to a tenth of a ms (nearest rank). ' : "at autocannon's 1 ms resolution. ") +
          'server CPU/request: CPU time (user + system) of this process over the measured load divided by the responses: the cost ' +
          'of one answer on the server\'s side (the fleet\'s own background work included, the database\'s not), which the machine\'s other load moves far less than latency. ' +
          'event-loop delay: how late the server\'s event loop ran a 1 ms timer during the load (perf_hooks.monitorEventLoopDelay), p99 / max: ' +
          'synchronous work on the loop and the core taken away by other processes both show there. ' +
          'GC pauses: garbage collections of the server process during the load (perf_hooks `gc` entries, wall time: a collector that waited for the core counts its wait); ' +
          'waited for a core: time its main thread was ready to run but not running (/proc/self/schedstat), per second of load. ' +
          `\`/api/instance/:id/details\`: each connection walks through the ${ids.length} instance ids in turn. ` +
          `\`GET /trivial\`: a bare express app in the same process, \`res.json({ ok: true })\`, measured first and last. ` +
          `Verdict: p99 ≤ ${P99_LIMIT_MS} ms with no non-2xx, error or timeout` +
          (opts.rate ? ` and at least ${Math.round(SERVED_SHARE_MIN * 100)} % of the paced rate served` : '') +
          `; the run exits 1 when a route of the API misses it` +
          (missed.length > 0 ? ` (missed: ${missed.map((r) => r.route).join(', ')}).` : ' (none missed).'),
        `While the fleet was filled, ${deadlockedCreations} instance creation(s) deadlocked in the database and were tried again.`,
        '',
      ].join('\n'),
    );
  } finally {
    await cleanUpOnce();
  }
}

await main();
