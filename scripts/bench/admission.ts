/**
 * Admission, the must-show of issue 13: N instances created within one second against the built
 * supervisor (`npm run build`, then `node dist/src/main.js` as `npm start` runs it), demo mode,
 * real workers and Chromium. Throughout, `/api/health` and `/api/memory/report` are polled, the
 * instance list is read, and the PSS of the supervisor's whole process tree (every worker and
 * every Chromium, launches in progress included, the supervisor itself left out) is measured
 * here, independently of what the supervisor reports. Prints one verdict table per run.
 *
 * Run: npm run bench:admission -- [--instances 40] [--launch-concurrency 4] [--cap-mb 2048]
 *        [--raised-cap-mb 16384] [--expected-mb 200] [--observe-ms 90000] [--bound-ms 600000]
 *        [--only capped|raised] [--label text]
 *
 * Two runs: `capped` (the cap as given: the instances reach QR in turn until memory is short,
 * the rest wait with the admission reason) and `raised` (the cap raised for all of them: every
 * one reaches QR in turn). Every verdict can fail; to see the memory one trip, run
 * `--only capped --launch-concurrency 1000 --expected-mb 16` (a gate that lets every start
 * through at once, as if it were not there).
 *
 * The verdicts:
 *  - no 5xx          every create, health and report request answered, none with a 5xx
 *  - health < 2 s     the slowest /api/health of the run
 *  - memory ≤ cap + 1 the largest PSS of the tree measured here ≤ cap + one instance's cost
 *                     (the largest expected cost the supervisor reported, at least INSTANCE_EXPECTED_MB)
 *  - launches ≤ limit instances seen INITIALIZING or LOADING at once ≤ LAUNCH_CONCURRENCY
 *  - every start      capped: at the end each instance has reached QR or waits with a memory
 *                     reason; raised: each has reached QR within the bound
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readMemory, sampleTree } from '../../lib/proc-memory.js';
import { sleep } from '../../lib/timeout.js';
import { createTestDatabase } from '../../tests/support/db.js';
import { findProcessesWithArg } from '../../tests/support/processes.js';
import { freePort } from '../../tests/support/net.js';
import { ApiClient } from '../support/api-client.js';
import { SupervisorProcess } from '../support/supervisor-process.js';
import { chromiumProcessCount, LoadWatch, machineFacts, progress } from './support/machine.js';
import { renderTable } from './support/table.js';

const MIB = 1024 * 1024;
const API_KEY = 'admission-bench-key-0123456789abcdef';
const HEALTH_LIMIT_MS = 2_000;
const POLL_MS = 250;
const LIST_MS = 1_000;

export interface AdmissionRunOptions {
  instances: number;
  launchConcurrency: number;
  capMb: number;
  expectedMb: number;
  /** How long to watch after the creates when not every instance is expected to reach QR. */
  observeMs: number;
  /** Give up waiting for every instance to reach QR after this long. */
  boundMs: number;
  /** Every instance must reach QR (the cap fits them all), else reaching QR or waiting with a reason is enough. */
  expectAllQr: boolean;
  /** After the observation, remove instances that reached QR to make room, until every one has. */
  removeToMakeRoom?: boolean;
  /** Extra settings for the supervisor. */
  env?: Record<string, string>;
  log?: (message: string) => void;
}

export interface AdmissionObservations {
  options: AdmissionRunOptions;
  creates: { status: number; ms: number }[];
  requests: number;
  /** Responses >= 500, and requests that got no answer at all (timeouts, refused connections). */
  serverErrors: string[];
  healthMs: number[];
  /** PSS of the supervisor's tree without the supervisor, as measured here. */
  peakTreeBytes: number;
  /** The supervisor's own report of the fleet. */
  peakReportedMb: number;
  maxExpectedMb: number;
  maxLaunchingReported: number;
  /** Instances seen INITIALIZING or LOADING in one read of the list. */
  maxStartingSeen: number;
  maxWaiting: number;
  reachedQr: Map<string, number>;
  /** At the end: instances waiting at the gate, with their reason. */
  waitingAtEnd: Map<string, string>;
  /** Reasons seen on waiting instances (distinct). */
  reasons: Set<string>;
  /** Instances neither at QR nor waiting at the end. */
  neither: string[];
  allQrMs: number | null;
  durationMs: number;
  removed: number;
  /** Processes of the run's session root still alive after the supervisor stopped (killed then). */
  leftovers: number;
}

interface InstanceRead {
  id: string;
  connectionStatus: string;
  admission: { waiting: true; reason: string; wait: string } | null;
}

function treeBytesWithoutRoot(pid: number): number {
  const tree = sampleTree(pid);
  return Math.max(0, tree.pssBytes - (readMemory(pid)?.pssBytes ?? 0));
}

/** One run: a private database, a scratch session root, the built supervisor, N creates in one second, polling throughout. */
export async function runAdmission(options: AdmissionRunOptions): Promise<AdmissionObservations> {
  const log = options.log ?? (() => undefined);
  const scratch = mkdtempSync(join(process.env.WA_FLEET_TEST_DIR ?? tmpdir(), 'admission-'));
  // Workers may run as an unprivileged WORKER_USER: it must be able to pass through to the session root.
  chmodSync(scratch, 0o711);
  const sessions = join(scratch, 'sessions');
  const db = await createTestDatabase({ migrated: true });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const supervisor = new SupervisorProcess({
    cwd: scratch,
    logFile: join(scratch, 'supervisor.log'),
    baseUrl: base,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      API_KEY,
      MYSQL_URL: db.url,
      HOST: '127.0.0.1',
      PORT: String(port),
      SESSION_STORAGE_PATH: sessions,
      CACHE_PATH: join(scratch, 'cache'),
      CHROME_PATH: process.env.CHROME_PATH ?? '/usr/bin/chromium',
      WA_FLEET_FAKE_WEB: 'true',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      LAUNCH_CONCURRENCY: String(options.launchConcurrency),
      FLEET_MEMORY_CAP_MB: String(options.capMb),
      INSTANCE_EXPECTED_MB: String(options.expectedMb),
      ...options.env,
    },
  });
  const api = new ApiClient(base, API_KEY, 15_000);
  const o: AdmissionObservations = {
    options,
    creates: [],
    requests: 0,
    serverErrors: [],
    healthMs: [],
    peakTreeBytes: 0,
    peakReportedMb: 0,
    maxExpectedMb: 0,
    maxLaunchingReported: 0,
    maxStartingSeen: 0,
    maxWaiting: 0,
    reachedQr: new Map(),
    waitingAtEnd: new Map(),
    reasons: new Set(),
    neither: [],
    allQrMs: null,
    durationMs: 0,
    removed: 0,
    leftovers: 0,
  };
  const ids = Array.from({ length: options.instances }, (_, i) => `adm-${String(i).padStart(2, '0')}`);
  const removed = new Set<string>();
  let latest: InstanceRead[] = [];
  let stop = false;
  const call = async (method: string, path: string, body?: unknown) => {
    o.requests++;
    try {
      const answer = await api.request(method, path, body);
      if (answer.status >= 500) o.serverErrors.push(`${method} ${path}: ${answer.status} ${answer.text.slice(0, 200)}`);
      return answer;
    } catch (err) {
      o.serverErrors.push(`${method} ${path}: no answer (${err instanceof Error ? err.message : String(err)})`);
      return null;
    }
  };
  const pollers: Promise<void>[] = [];
  let t0 = Date.now();
  try {
    await supervisor.start();
    const pid = supervisor.pid!;
    log(`supervisor ${pid} on ${base}; ${options.instances} creates, LAUNCH_CONCURRENCY ${options.launchConcurrency}, cap ${options.capMb} MiB, INSTANCE_EXPECTED_MB ${options.expectedMb}`);
    // Memory of the tree, health and the report, every POLL_MS; the list every LIST_MS.
    pollers.push(
      (async () => {
        while (!stop) {
          o.peakTreeBytes = Math.max(o.peakTreeBytes, treeBytesWithoutRoot(pid));
          const started = Date.now();
          const health = await call('GET', '/api/health');
          if (health?.status === 200) o.healthMs.push(Date.now() - started);
          const report = await call('GET', '/api/memory/report');
          const fleet = (report?.body as { fleet?: { totalMb: number; expectedMb: number; launching: number; waiting: number } } | undefined)?.fleet;
          if (fleet) {
            o.peakReportedMb = Math.max(o.peakReportedMb, fleet.totalMb);
            o.maxExpectedMb = Math.max(o.maxExpectedMb, fleet.expectedMb);
            o.maxLaunchingReported = Math.max(o.maxLaunchingReported, fleet.launching);
            o.maxWaiting = Math.max(o.maxWaiting, fleet.waiting);
          }
          await sleep(POLL_MS);
        }
      })(),
      (async () => {
        while (!stop) {
          const answer = await call('GET', '/api/instances');
          const list = (answer?.body as { instances?: InstanceRead[] } | undefined)?.instances;
          if (list) {
            latest = list;
            let starting = 0;
            for (const i of list) {
              if (i.connectionStatus === 'QR_REQUIRED' && !o.reachedQr.has(i.id)) o.reachedQr.set(i.id, Date.now() - t0);
              if (i.connectionStatus === 'INITIALIZING' || i.connectionStatus === 'LOADING') starting++;
              if (i.admission?.waiting) o.reasons.add(i.admission.reason.replace(/\d+(\.\d+)? (MiB|GiB)/g, 'N $2'));
            }
            o.maxStartingSeen = Math.max(o.maxStartingSeen, starting);
          }
          await sleep(LIST_MS);
        }
      })(),
    );
    // N creates spread over one second.
    t0 = Date.now();
    await Promise.all(
      ids.map(async (id, i) => {
        await sleep(Math.floor((i * 1_000) / options.instances));
        const started = Date.now();
        const answer = await call('POST', '/api/instances', { id });
        o.creates.push({ status: answer?.status ?? 0, ms: Date.now() - started });
      }),
    );
    log(`created: ${o.creates.filter((c) => c.status === 201).length}/${ids.length} answered 201 within ${Date.now() - t0} ms`);
    // Wait: until all reached QR, or (capped) until the observation window is over and no launch is in progress.
    const deadline = t0 + (options.expectAllQr ? options.boundMs : options.observeMs);
    let lastProgress = 0;
    for (;;) {
      const reached = ids.filter((id) => o.reachedQr.has(id)).length;
      if (reached !== lastProgress) {
        lastProgress = reached;
        log(`${reached}/${ids.length} reached QR; tree PSS peak ${Math.round(o.peakTreeBytes / MIB)} MiB; waiting peak ${o.maxWaiting}`);
      }
      if (reached === ids.length) break;
      if (Date.now() > deadline) break;
      await sleep(500);
    }
    // Capped: every instance has reached QR or waits with the reason (a launch in progress at the end gets a little longer).
    if (!options.expectAllQr) {
      const settle = Date.now() + 60_000;
      for (;;) {
        const pending = latest.filter((i) => !o.reachedQr.has(i.id) && !i.admission?.waiting);
        if (pending.length === 0 || Date.now() > settle) break;
        await sleep(LIST_MS);
      }
      for (const i of latest) if (i.admission?.waiting) o.waitingAtEnd.set(i.id, i.admission.reason);
      o.neither = ids.filter((id) => !o.reachedQr.has(id) && !o.waitingAtEnd.has(id));
    }
    // Make room: remove what reached QR until every instance has (the e2e's second half).
    if (options.removeToMakeRoom) {
      const bound = Date.now() + options.boundMs;
      while (ids.some((id) => !o.reachedQr.has(id)) && Date.now() < bound) {
        for (const id of ids) {
          if (o.reachedQr.has(id) && !removed.has(id)) {
            removed.add(id);
            await call('DELETE', `/api/instance/${id}`);
          }
        }
        await sleep(500);
      }
      o.removed = removed.size;
    }
    const all = ids.every((id) => o.reachedQr.has(id));
    o.allQrMs = all ? Math.max(...ids.map((id) => o.reachedQr.get(id)!)) : null;
  } finally {
    stop = true;
    await Promise.all(pollers);
    o.durationMs = Date.now() - t0;
    await supervisor.stop(30_000);
    // Nothing of the run may survive it: a browser or worker still holding the scratch folder is counted and killed.
    const left = findProcessesWithArg(scratch);
    o.leftovers = left.length;
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await db.drop();
    if (process.env.ADMISSION_KEEP_LOG) log(`supervisor log kept: ${join(scratch, 'supervisor.log')}`);
    else rmSync(scratch, { recursive: true, force: true });
  }
  return o;
}

export interface Verdict {
  name: string;
  ok: boolean;
  measured: string;
  limit: string;
}

const max = (values: readonly number[]): number => (values.length === 0 ? 0 : Math.max(...values));

/** One instance's cost for the memory verdict: the largest expected cost the supervisor reported, at least INSTANCE_EXPECTED_MB. */
export function oneInstanceMb(o: AdmissionObservations): number {
  return Math.max(o.maxExpectedMb, o.options.expectedMb);
}

/** The verdicts of one run; each can fail. */
export function verdicts(o: AdmissionObservations): Verdict[] {
  const { options } = o;
  const slowestHealth = max(o.healthMs);
  const peakMb = o.peakTreeBytes / MIB;
  const allowedMb = options.capMb + oneInstanceMb(o);
  const out: Verdict[] = [
    {
      name: 'no 5xx',
      ok: o.serverErrors.length === 0 && o.creates.every((c) => c.status === 201),
      measured: `${o.serverErrors.length} 5xx/unanswered of ${o.requests} requests; creates ${o.creates.filter((c) => c.status === 201).length}/${options.instances} × 201 (slowest ${max(o.creates.map((c) => c.ms))} ms)`,
      limit: '0; every create 201',
    },
    {
      name: 'health < 2 s',
      ok: o.healthMs.length > 0 && slowestHealth < HEALTH_LIMIT_MS,
      measured: `slowest ${slowestHealth} ms of ${o.healthMs.length}`,
      limit: `< ${HEALTH_LIMIT_MS} ms`,
    },
    {
      name: 'memory ≤ cap + one instance',
      ok: peakMb <= allowedMb,
      measured: `peak ${Math.round(peakMb)} MiB (tree PSS measured here; the supervisor reported at most ${Math.round(o.peakReportedMb)} MiB)`,
      limit: `≤ ${options.capMb} + ${Math.round(oneInstanceMb(o))} = ${Math.round(allowedMb)} MiB`,
    },
    {
      name: 'launches ≤ LAUNCH_CONCURRENCY',
      ok: o.maxStartingSeen <= options.launchConcurrency && o.maxLaunchingReported <= options.launchConcurrency,
      measured: `${o.maxStartingSeen} seen INITIALIZING/LOADING at once; gate reported ${o.maxLaunchingReported}`,
      limit: `≤ ${options.launchConcurrency}`,
    },
  ];
  if (options.expectAllQr || options.removeToMakeRoom) {
    out.push({
      name: 'all reach QR in turn',
      ok: o.allQrMs !== null,
      measured: o.allQrMs === null ? `${o.reachedQr.size}/${options.instances} reached QR` : `${options.instances}/${options.instances} in ${(o.allQrMs / 1000).toFixed(1)} s${o.removed ? ` (${o.removed} removed to make room)` : ''}`,
      limit: `all ${options.instances}`,
    });
  }
  if (!options.expectAllQr) {
    const memoryWaits = [...o.waitingAtEnd.values()].filter((r) => r.startsWith('fleet memory')).length;
    out.push({
      name: 'QR or waiting with the reason',
      ok: o.neither.length === 0 && memoryWaits === o.waitingAtEnd.size,
      measured: `${o.reachedQr.size} reached QR, ${o.waitingAtEnd.size} waiting (${memoryWaits} for memory)${o.neither.length ? `, neither: ${o.neither.join(' ')}` : ''}`,
      limit: `each of ${options.instances}`,
    });
  }
  out.push({ name: 'no process left behind', ok: o.leftovers === 0, measured: `${o.leftovers}`, limit: '0' });
  return out;
}

export function verdictTable(list: readonly Verdict[]): string {
  return renderTable(
    ['verdict', 'result', 'measured', 'limit'],
    list.map((v) => [v.name, v.ok ? 'PASS' : '**FAIL**', v.measured, v.limit]),
    4,
  );
}

function wholeNumber(name: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number >= ${min}, got ${text}`);
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      instances: { type: 'string', default: '40' },
      'launch-concurrency': { type: 'string', default: '4' },
      'cap-mb': { type: 'string', default: '2048' },
      'raised-cap-mb': { type: 'string', default: '16384' },
      'expected-mb': { type: 'string', default: '200' },
      'observe-ms': { type: 'string', default: '90000' },
      'bound-ms': { type: 'string', default: '600000' },
      only: { type: 'string' },
      label: { type: 'string', default: '' },
    },
    strict: true,
  });
  const instances = wholeNumber('instances', values.instances, 1);
  const common = {
    instances,
    launchConcurrency: wholeNumber('launch-concurrency', values['launch-concurrency'], 1),
    expectedMb: wholeNumber('expected-mb', values['expected-mb'], 16),
    observeMs: wholeNumber('observe-ms', values['observe-ms'], 1_000),
    boundMs: wholeNumber('bound-ms', values['bound-ms'], 1_000),
    log: progress,
  };
  const runs: Array<{ name: string; options: AdmissionRunOptions }> = [
    { name: 'capped', options: { ...common, capMb: wholeNumber('cap-mb', values['cap-mb'], 64), expectAllQr: false } },
    { name: 'raised', options: { ...common, capMb: wholeNumber('raised-cap-mb', values['raised-cap-mb'], 64), expectAllQr: true } },
  ].filter((r) => !values.only || r.name === values.only);
  if (runs.length === 0) throw new Error(`--only must be capped or raised, got ${values.only}`);
  const chromePath = process.env.CHROME_PATH ?? '/usr/bin/chromium';
  const header = machineFacts(chromePath, chromiumProcessCount());
  const load = new LoadWatch();
  const sections: string[] = [];
  let failed = 0;
  for (const run of runs) {
    progress(`run ${run.name}`);
    const o = await runAdmission(run.options);
    const list = verdicts(o);
    failed += list.filter((v) => !v.ok).length;
    const { options } = run;
    sections.push(
      [
        `### ${run.name}${values.label ? ` (${values.label})` : ''}: ${options.instances} creates in one second, LAUNCH_CONCURRENCY=${options.launchConcurrency}, FLEET_MEMORY_CAP_MB=${options.capMb}, INSTANCE_EXPECTED_MB=${options.expectedMb}`,
        '',
        verdictTable(list),
        '',
        `Reached QR: ${o.reachedQr.size}/${options.instances}${o.allQrMs !== null ? ` (last after ${(o.allQrMs / 1000).toFixed(1)} s)` : ''}; most waiting at once: ${o.maxWaiting}; ` +
          `expected cost reported up to ${Math.round(o.maxExpectedMb)} MiB; run ${(o.durationMs / 1000).toFixed(0)} s.`,
        o.reasons.size > 0 ? `Admission reasons seen (figures as N): ${[...o.reasons].map((r) => `\`${r}\``).join('; ')}` : 'No instance waited.',
        o.serverErrors.length > 0 ? `Server errors: ${o.serverErrors.slice(0, 5).join(' | ')}` : '',
      ]
        .filter((line) => line !== '')
        .join('\n'),
    );
  }
  process.stdout.write(`${header}\n${load.summary()}\n\n${sections.join('\n\n')}\n\n${failed === 0 ? 'VERDICT: PASS' : `VERDICT: FAIL (${failed} verdict(s) failed)`}\n`);
  process.exitCode = failed === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 2;
  });
}
