/**
 * Scale, the must-show of the issue: `npm run bench:scale -- --instances 50` creates and links N
 * instances on the built supervisor (`node dist/src/main.js` in its own process, demo mode: real
 * workers and Chromium on the fake WhatsApp Web page, a throwaway database on MYSQL_URL, sessions
 * in a temp folder), then:
 *  1. idle steady state for `--idle-s`, passive: total PSS, PSS per instance, the supervisor's and
 *     the whole run's CPU (from /proc), and the check loops' tick durations at their default
 *     intervals (from `GET /api/health`); every instance must stay CONNECTED, every loop tick;
 *  2. the API under an autocannon load, after the passive window so it does not spoil the CPU
 *     figures: p50/p99 of the list, an instance's details and the memory report;
 *  3. SIGKILL of the supervisor and a new one started at once on the same database and folder,
 *     timed until all N are CONNECTED again: time, failures (not CONNECTED within `--bound-ms`),
 *     QR shown, peak PSS, and whether the killed supervisor's workers and browsers went away.
 * Prints the tables (with the machine, its load, and WAHA's and whatsapp-web.js users' figures on
 * the real site as context) on stdout, progress on stderr. Exits 1 when an instance did not come
 * back or showed a QR, on any supervisor error (an error log line, a request answered with an
 * error or not at all), or when any other verdict failed; the graceful stop at the end must leave
 * nothing behind.
 *
 * Run: npm run build && npm run bench:scale -- [--instances 50] [--idle-s 300] [--settle-s 30]
 *        [--sample-s 15] [--api-duration-s 10] [--api-warmup-s 2] [--api-connections 10]
 *        [--bound-ms 600000] [--boot-sample-ms 1000] [--cap-mb <80 % of RAM>]
 *        [--boots 1] [--between-boots-s 10] [--set NAME=VALUE ...]
 *
 * `--boots N` repeats step 3 N times (the fleet settles `--between-boots-s` after each boot) and
 * adds the medians; every boot is judged. `--set NAME=VALUE` (repeatable) gives the supervisor a
 * product setting other than its default, e.g. `--set REHYDRATE_STAGGER_MS=0`; the report names it.
 *
 * Every setting is the product's default but demo mode and FLEET_MEMORY_CAP_MB: at its default
 * of 2048 MiB the start gate would hold back all but ten instances, so it is sized to the machine
 * (`--cap-mb`), as an operator running 50 would.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { sleep } from '../../lib/timeout.js';
import { parseOptions, requireBuiltSupervisor, runScriptMain, UsageError, wholeOption } from '../support/cli.js';
import { CHROME_PATH } from './support/fleet-run.js';
import { chromiumProcessCount, describeError, LoadWatch, machineFacts, progress } from './support/machine.js';
import { startRouteLoad } from './support/route-load.js';
import type { RouteRow } from './support/route-report.js';
import { createAndLink, listOrNote, statusChangesSince, waitConnectedSince } from './support/scale-fleet.js';
import { LoopWatch } from './support/scale-loops.js';
import { cpuBetween, runMemory, runProcesses, stillRunning, type RunMemory } from './support/scale-processes.js';
import { PeakMemory } from './support/peak-memory.js';
import { renderReport, verdicts, type BootResult, type IdleResult } from './support/scale-report.js';
import { SETTINGS } from '../../src/config/index.js';
import { codeFacts, ScaleRun } from './support/scale-run.js';
import { scrapeEventLoopLag } from './support/event-loop-lag.js';

/** `GET /api/health` during the idle window: well below the shortest loop interval (30 s), light enough to leave the CPU figures alone. */
const LOOP_POLL_MS = 5_000;
/** Linking gets this long plus this much per instance (four launches at a time, on a machine that may be loaded). */
const LINK_BASE_MS = 120_000;
const LINK_PER_INSTANCE_MS = 15_000;
/** A response slower than this counts as an autocannon timeout. */
const REQUEST_TIMEOUT_SEC = 10;
/** Between two routes' loads, and between the last one and the kill: the last answers are out. */
const QUIET_MS = 2_000;
/** A SIGKILLed process is gone at once; past this something is wrong with the machine. */
const KILL_EXIT_MS = 10_000;

interface Options {
  instances: number;
  idleMs: number;
  settleMs: number;
  sampleMs: number;
  apiDurationSec: number;
  apiWarmupSec: number;
  apiConnections: number;
  boundMs: number;
  bootSampleMs: number;
  capMb: number;
  boots: number;
  betweenBootsMs: number;
  /** `--set`: product settings other than their defaults. */
  settings: Record<string, string>;
}

/** `NAME=VALUE` pairs of `--set`, each NAME a product setting. */
function settingsOption(pairs: readonly string[]): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const name = at > 0 ? pair.slice(0, at) : '';
    if (!(name in SETTINGS)) throw new UsageError(`--set takes NAME=VALUE with NAME a setting (see .env.example), got ${pair}`);
    settings[name] = pair.slice(at + 1);
  }
  return settings;
}

function options(): Options {
  const { values } = parseOptions(() =>
    parseArgs({
      options: {
        instances: { type: 'string', default: '50' },
        'idle-s': { type: 'string', default: '300' },
        'settle-s': { type: 'string', default: '30' },
        'sample-s': { type: 'string', default: '15' },
        'api-duration-s': { type: 'string', default: '10' },
        'api-warmup-s': { type: 'string', default: '2' },
        'api-connections': { type: 'string', default: '10' },
        'bound-ms': { type: 'string', default: '600000' },
        'boot-sample-ms': { type: 'string', default: '1000' },
        'cap-mb': { type: 'string', default: String(Math.floor((totalmem() / 1024 ** 2) * 0.8)) },
        boots: { type: 'string', default: '1' },
        'between-boots-s': { type: 'string', default: '10' },
        set: { type: 'string', multiple: true, default: [] },
      },
      strict: true,
    }),
  );
  return {
    instances: wholeOption('instances', values.instances, 1),
    idleMs: wholeOption('idle-s', values['idle-s'], 5) * 1000,
    settleMs: wholeOption('settle-s', values['settle-s'], 0) * 1000,
    sampleMs: wholeOption('sample-s', values['sample-s'], 1) * 1000,
    apiDurationSec: wholeOption('api-duration-s', values['api-duration-s'], 1),
    apiWarmupSec: wholeOption('api-warmup-s', values['api-warmup-s'], 0),
    apiConnections: wholeOption('api-connections', values['api-connections'], 1),
    boundMs: wholeOption('bound-ms', values['bound-ms'], 10_000),
    bootSampleMs: wholeOption('boot-sample-ms', values['boot-sample-ms'], 100),
    capMb: wholeOption('cap-mb', values['cap-mb'], 64),
    boots: wholeOption('boots', values.boots, 1),
    betweenBootsMs: wholeOption('between-boots-s', values['between-boots-s'], 0) * 1000,
    settings: settingsOption(values.set),
  };
}

/** Each instance's status as `GET /api/instances` shows it; null when the list could not be read. */
async function listedStatuses(run: ScaleRun, failures: string[]): Promise<Map<string, string> | null> {
  const list = await listOrNote(run.api, failures);
  return list && new Map(list.map((i) => [i.id, i.connectionStatus]));
}

/** Instances of `ids` the list does not show CONNECTED, with their status. */
async function notConnected(run: ScaleRun, ids: readonly string[], failures: string[]): Promise<string[]> {
  const shown = await listedStatuses(run, failures);
  if (!shown) return ['the list could not be read'];
  return ids.filter((id) => shown.get(id) !== 'CONNECTED').map((id) => `${id} ${shown.get(id) ?? 'missing'}`);
}

/** The passive window: PSS samples, CPU at both ends, loop ticks; then what the database recorded meanwhile. */
async function idle(run: ScaleRun, ids: readonly string[], opts: Options, failures: string[]): Promise<IdleResult> {
  const supervisorPid = run.supervisor.pid;
  if (supervisorPid === null) throw new Error('the supervisor is not running');
  const atStart = await notConnected(run, ids, failures);
  const loops = new LoopWatch(run.api, LOOP_POLL_MS);
  // Resets the lag histogram: the scrape at the end reads the window alone.
  await scrapeEventLoopLag(run.api);
  const before = runProcesses(run.marker);
  const t0 = Date.now();
  const end = t0 + opts.idleMs;
  const samples: RunMemory[] = [];
  while (Date.now() < end) {
    samples.push(runMemory(run.marker, supervisorPid));
    await sleep(Math.min(opts.sampleMs, end - Date.now()));
  }
  samples.push(runMemory(run.marker, supervisorPid));
  const after = runProcesses(run.marker);
  const windowMs = Date.now() - t0;
  const eventLoopLag = await scrapeEventLoopLag(run.api);
  const ticks = await loops.stop();
  failures.push(...loops.failures);
  const ofSupervisor = (list: typeof before) => list.filter((p) => p.pid === supervisorPid);
  return {
    instances: ids.length,
    windowMs,
    totalBytes: samples.map((s) => s.totalBytes),
    supervisorBytes: samples.map((s) => s.supervisorBytes),
    processes: samples.map((s) => s.processes),
    supervisorCpu: cpuBetween(ofSupervisor(before), ofSupervisor(after)),
    totalCpu: cpuBetween(before, after),
    loops: ticks,
    eventLoopLag,
    changes: (await statusChangesSince(run.db.pool, t0)).filter((c) => c.at <= t0 + windowMs),
    notConnected: [...new Set([...atStart, ...(await notConnected(run, ids, failures))])],
  };
}

/** The list, one instance's details (walking through every id) and the memory report, one route after the other. */
async function loadRoutes(run: ScaleRun, ids: readonly string[], opts: Options): Promise<RouteRow[]> {
  const routes = [
    { route: 'GET /api/instances', paths: ['/api/instances'] },
    { route: 'GET /api/instance/:id/details', paths: ids.map((id) => `/api/instance/${encodeURIComponent(id)}/details`) },
    { route: 'GET /api/memory/report', paths: ['/api/memory/report'] },
  ];
  const rows: RouteRow[] = [];
  for (const { route, paths } of routes) {
    const load = async (durationSec: number) => {
      run.load = startRouteLoad({ baseUrl: run.baseUrl, paths, headers: { 'x-api-key': run.apiKey }, connections: opts.apiConnections, durationSec, timeoutSec: REQUEST_TIMEOUT_SEC, cpus: null });
      try {
        return await run.load.done;
      } finally {
        run.load = null;
      }
    };
    try {
      // The first requests pay for JIT compilation, which a running server has long done.
      if (opts.apiWarmupSec > 0) await load(opts.apiWarmupSec);
      const result = await load(opts.apiDurationSec);
      rows.push({ route, judged: true, load: result, serverCpuUs: null, loopDelayMs: null });
      progress(`${route}: ${Math.round(result.requestsPerSec)} requests/s, p50 ${result.latencyP50Ms} ms, p99 ${result.latencyP99Ms} ms, ${result.non2xx} non-2xx, ${result.errors} errors`);
    } catch (err) {
      rows.push({ route, judged: true, load: null, serverCpuUs: null, loopDelayMs: null });
      progress(`${route}: FAILED: ${describeError(err)}`);
    }
    await sleep(QUIET_MS);
  }
  return rows;
}

/** SIGKILL, a new supervisor at once, and the boot until every instance has a CONNECTED recorded after the kill. */
async function boot(run: ScaleRun, ids: readonly string[], opts: Options, failures: string[]): Promise<BootResult> {
  const killed = runProcesses(run.marker).filter((p) => p.pid !== run.supervisor.pid);
  // Every process of the run, not this process's tree: the killed supervisor's orphans and the crashpad handlers count too.
  const peak = new PeakMemory(opts.bootSampleMs, () => {
    const m = runMemory(run.marker, null);
    return { pssBytes: m.totalBytes, processes: m.processes };
  });
  try {
    const loadAtKill = loadavg()[0] ?? 0;
    const tKill = Date.now();
    run.supervisor.signal('SIGKILL');
    if (!(await run.supervisor.waitExit(KILL_EXIT_MS))) throw new Error(`the supervisor was still running ${KILL_EXIT_MS / 1000} s after SIGKILL`);
    progress(`supervisor SIGKILLed; ${stillRunning(killed).length} of its ${killed.length} other processes still running; starting a new one`);
    await run.supervisor.start(opts.boundMs);
    const apiUpMs = Date.now() - tKill;
    const atApiUp = stillRunning(killed).length;
    progress(`new supervisor ${run.supervisor.pid} answers after ${(apiUpMs / 1000).toFixed(1)} s; ${atApiUp} of the killed one's processes still running`);
    const changes = await waitConnectedSince(run.db.pool, ids, tKill, tKill + opts.boundMs, progress);
    const { peakBytes, peakProcesses: processesAtPeak } = peak.stop();
    const afterBoot = stillRunning(killed).map((p) => `${p.pid} ${p.cmdline.slice(0, 100)}`);
    const shown = await listedStatuses(run, failures);
    const connectedMs: number[] = [];
    const startMs: number[] = [];
    const failed: string[] = [];
    for (const id of ids) {
      const mine = changes.filter((c) => c.instanceId === id);
      const connected = mine.find((c) => c.to === 'CONNECTED' && c.at <= tKill + opts.boundMs);
      if (!connected) {
        failed.push(`${id} ${mine.at(-1)?.to ?? 'no status recorded'}`);
        continue;
      }
      connectedMs.push(connected.at - tKill);
      const started = mine.findLast((c) => c.to === 'INITIALIZING' && c.at <= connected.at);
      if (started) startMs.push(connected.at - started.at);
      // The record says CONNECTED; the live view must agree.
      if (shown?.get(id) !== 'CONNECTED') failed.push(`${id} CONNECTED recorded, but the list shows ${shown?.get(id) ?? 'nothing (not read)'}`);
    }
    return {
      instances: ids.length,
      boundMs: opts.boundMs,
      loadAtKill,
      apiUpMs,
      connectedMs,
      startMs,
      failed,
      qrShown: [...new Set(changes.filter((c) => c.to === 'QR_REQUIRED').map((c) => c.instanceId))],
      retriedStarts: changes.filter((c) => c.to === 'DISCONNECTED').length,
      peakBytes,
      processesAtPeak,
      killedLife: { atKill: killed.length, atApiUp, afterBoot },
    };
  } finally {
    peak.stop();
  }
}

async function main(): Promise<number> {
  const opts = options();
  requireBuiltSupervisor();
  const command = `npm run bench:scale -- ${process.argv.slice(2).join(' ')}`.trim();
  const load = new LoadWatch();
  const machine = machineFacts(CHROME_PATH, chromiumProcessCount());
  progress(`${machine.replaceAll('\n', '; ')}; load average ${load.atStart}`);
  const run = await ScaleRun.start({ capMb: opts.capMb, chromePath: CHROME_PATH, settings: opts.settings });
  const ids = Array.from({ length: opts.instances }, (_, i) => `scale-${String(i + 1).padStart(3, '0')}`);
  /** Requests of the bench the supervisor answered with an error or not at all. */
  const failures: string[] = [];
  try {
    await run.supervisor.start();
    progress(`supervisor ${run.supervisor.pid} on ${run.baseUrl}, database ${run.db.name}; creating and linking ${ids.length} instances`);
    const linkStarted = Date.now();
    await createAndLink(run.api, ids, LINK_BASE_MS + LINK_PER_INSTANCE_MS * ids.length, failures, progress);
    progress(`all ${ids.length} CONNECTED in ${((Date.now() - linkStarted) / 1000).toFixed(0)} s; settling ${opts.settleMs / 1000} s, then ${opts.idleMs / 1000} s of idle measurement`);
    await sleep(opts.settleMs);
    const idleResult = await idle(run, ids, opts, failures);
    progress(`idle window done: ${idleResult.changes.length} status change(s), ${idleResult.totalBytes.length} PSS samples; loading the API`);
    const api = await loadRoutes(run, ids, opts);
    await sleep(QUIET_MS);
    const boots: BootResult[] = [];
    for (let n = 1; n <= opts.boots; n++) {
      if (n > 1) await sleep(opts.betweenBootsMs);
      const result = await boot(run, ids, opts, failures);
      boots.push(result);
      const all = result.failed.length === 0 ? `all in ${(Math.max(...result.connectedMs) / 1000).toFixed(2)} s` : `${result.failed.length} not back`;
      progress(`boot ${n}/${opts.boots} done: ${result.connectedMs.length}/${ids.length} CONNECTED (${all}), ${result.qrShown.length} QR shown`);
      if (result.failed.length > 0) break;
    }
    progress('stopping the supervisor (SIGTERM)');
    const end = await run.end(ids);
    const checks = verdicts(idleResult, api, boots, end, failures);
    const facts = { command, commit: codeFacts(), machine, load: load.summary(), settings: run.settings, cores: cpus().length };
    process.stdout.write(`${renderReport(facts, idleResult, api, boots, end, checks)}\n`);
    const missed = checks.filter((v) => !v.ok);
    for (const v of missed) progress(`MISSED ${v.name}: ${v.measured}`);
    return missed.length === 0 ? 0 : 1;
  } finally {
    await run.cleanUp();
    progress(`cleaned up: ${chromiumProcessCount()} Chromium processes on the machine now`);
  }
}

runScriptMain('bench:scale', main);
