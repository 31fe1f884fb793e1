/**
 * Does anything grow at steady state? The supervisor is started as a user starts it (built, demo
 * mode, its own MariaDB from ensure-mysql.sh), N instances are linked through the demo scan, and
 * then nothing happens for M minutes except the check loops, all at short intervals. Every
 * `--sample-s` the PSS of the supervisor process and of each instance (its worker plus
 * descendants, i.e. its Chromium) is read from /proc; at the end each gets a least-squares slope
 * per hour with its standard error, over the samples after the warm-up, and a verdict (flat,
 * GROWING, not judged: see scripts/soak/verdict.ts).
 *
 * Run: npm run soak -- --minutes 30 [--instances 5] [--sample-s 10] [--warmup-s 60] [--floor-mib-h 10] [--out DIR]
 *
 * Writes report.json (every sample) to --out (default data/soak/<time>), where the supervisor's
 * log lands too. Exits 1 when anything moved at steady state (see soakFailures: the supervisor or
 * an instance GROWING, a worker restart, a sample not CONNECTED, an API failure, a series too short
 * to judge) or the run did not end clean (the supervisor died, processes were left behind); 2 on a
 * bad option.
 *
 * `--inject-leak ID` proves the verdict can fail: every `--inject-every-s` (default 30) after the
 * warm-up starts, it asks the demo page of instance ID to hold 50 MB more (POST /api/demo/ID/leak),
 * a leak the run must report as GROWING and exit 1 on.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readMemory, sampleTree } from '../lib/proc-memory.js';
import { sleep } from '../lib/timeout.js';
import { findProcessesWithArg } from '../tests/support/processes.js';
import { processesOfRun } from './bench/support/cleanup.js';
import { CHROME_PATH } from './bench/support/fleet-run.js';
import { chromiumProcessCount, describeError, LoadWatch, machineFacts, progress } from './bench/support/machine.js';
import { DASH, mebibytes, renderTable } from './bench/support/table.js';
import { DEFAULT_SOAK_RULE, lives, pidChanges, soakFailures, soakVerdict, verdictLabel, type SoakRule, type SoakVerdict } from './soak/verdict.js';
import type { InstanceSummary } from './support/api-client.js';
import { parseOptions, positiveOption, requireBuiltSupervisor, runScriptMain, UsageError, wholeOption } from './support/cli.js';
import { DemoRun, SHORT_LOOPS } from './support/demo-run.js';

interface Options {
  minutes: number;
  instances: number;
  sampleMs: number;
  warmupMs: number;
  floorMiBPerHour: number;
  out: string;
  injectLeak: string | null;
  injectEveryMs: number;
}

const OPTIONS = {
  minutes: { type: 'string', default: '30' },
  instances: { type: 'string', default: '5' },
  'sample-s': { type: 'string', default: '10' },
  'warmup-s': { type: 'string', default: '60' },
  'floor-mib-h': { type: 'string', default: String(DEFAULT_SOAK_RULE.floorMiBPerHour) },
  out: { type: 'string' },
  'inject-leak': { type: 'string' },
  'inject-every-s': { type: 'string', default: '30' },
} as const;

function options(): Options {
  const values = parseOptions(() => parseArgs({ options: OPTIONS, strict: true }).values);
  const minutes = positiveOption('minutes', values.minutes);
  const sampleMs = wholeOption('sample-s', values['sample-s'], 1) * 1000;
  const warmupMs = wholeOption('warmup-s', values['warmup-s'], 0) * 1000;
  if (warmupMs >= minutes * 60_000) throw new UsageError(`--warmup-s (${warmupMs / 1000}) must be shorter than --minutes (${minutes} min = ${minutes * 60} s)`);
  return {
    minutes,
    instances: wholeOption('instances', values.instances, 1),
    sampleMs,
    warmupMs,
    floorMiBPerHour: positiveOption('floor-mib-h', values['floor-mib-h']),
    out: resolve(values.out ?? join('data', 'soak', new Date().toISOString().replace(/[:.]/g, '-'))),
    injectLeak: values['inject-leak'] ?? null,
    injectEveryMs: wholeOption('inject-every-s', values['inject-every-s'], 1) * 1000,
  };
}

interface Sample {
  t: number;
  pssBytes: number;
  rssBytes: number;
  /** The process measured: the supervisor, or the instance's worker at that moment. */
  pid: number;
  /** Processes summed: 1 for the supervisor; worker + Chromium tree for an instance. */
  processes: number;
  /** The instance's connection status at the sample (instances only). */
  status?: string;
}

/** One measured process (the supervisor) or instance. */
interface Series {
  name: string;
  samples: Sample[];
  /** The pid at every sample tick, null when there was none to measure: restarts are its changes. */
  pids: (number | null)[];
  /** Ticks at which the instance was not CONNECTED. */
  notConnected: number;
  /** Ticks with nothing to measure (no worker, or it was gone by the time /proc was read). */
  missing: number;
}

const newSeries = (name: string): Series => ({ name, samples: [], pids: [], notConnected: 0, missing: 0 });

function sampleSupervisor(run: DemoRun, series: Series, t: number): void {
  const pid = run.supervisor.pid;
  const usage = pid === null ? null : readMemory(pid);
  series.pids.push(pid);
  if (pid === null || usage === null) {
    series.missing++;
    return;
  }
  series.samples.push({ t, pssBytes: usage.pssBytes, rssBytes: usage.rssBytes, pid, processes: 1 });
}

function sampleInstance(instance: InstanceSummary | undefined, series: Series, t: number): void {
  const status = instance?.connectionStatus ?? 'unknown';
  if (status !== 'CONNECTED') series.notConnected++;
  const pid = instance?.worker?.pid ?? null;
  series.pids.push(pid);
  const tree = pid === null ? null : sampleTree(pid);
  if (pid === null || tree === null || tree.pids.length === 0) {
    series.missing++;
    return;
  }
  series.samples.push({ t, pssBytes: tree.pssBytes, rssBytes: tree.rssBytes, pid, processes: tree.pids.length, status });
}

interface Judged {
  series: Series;
  /** The verdict shown: the first growing worker life, else the longest one. */
  verdict: SoakVerdict;
  /** One verdict per worker life (see lives()). */
  lives: SoakVerdict[];
  restarts: number;
  /** Samples the verdict used (after the warm-up). */
  used: Sample[];
}

function judge(series: Series, warmupEndsAt: number, rule: SoakRule): Judged {
  const after = series.samples.filter((s) => s.t >= warmupEndsAt);
  const parts = lives(after);
  const verdicts = parts.map((life) => soakVerdict(life.map((s) => ({ t: s.t, v: s.pssBytes })), rule));
  const longest = verdicts.reduce((best, v, i) => (v.n > verdicts[best]!.n ? i : best), 0);
  const growing = verdicts.findIndex((v) => v.growing);
  const shown = growing >= 0 ? growing : longest;
  return {
    series,
    used: parts[shown] ?? [],
    verdict: verdicts[shown] ?? soakVerdict([], rule),
    lives: verdicts,
    restarts: pidChanges(series.pids),
  };
}

const signed = (x: number): string => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(1)}` : DASH);
const plain = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : DASH);

function table(rows: readonly Judged[]): string {
  const header = [
    'process',
    'samples used (taken)',
    'start PSS (MiB)',
    'end PSS (MiB)',
    'slope (MiB/h)',
    '± spread (MiB/h)',
    'verdict',
    'restarts',
    'not CONNECTED (samples)',
    'processes at end',
  ];
  return renderTable(
    header,
    rows.map(({ series, verdict, restarts, used }) => [
      series.name,
      `${verdict.n} (${series.samples.length})`,
      mebibytes(verdict.startBytes),
      mebibytes(verdict.endBytes),
      signed(verdict.slopeMiBPerHour),
      plain(verdict.spreadMiBPerHour),
      verdictLabel(verdict),
      series.name === 'supervisor' ? DASH : String(restarts),
      series.name === 'supervisor' ? DASH : String(series.notConnected),
      String(used.at(-1)?.processes ?? DASH),
    ]),
    1,
  );
}

/** What the run left behind after close(): processes of the run, or anything still using its scratch folder (Chromium profiles, MariaDB). */
function leftovers(run: DemoRun): string[] {
  const pids = new Map<number, string>();
  for (const p of [...processesOfRun(run.marker), ...findProcessesWithArg(run.scratch)]) pids.set(p.pid, p.cmdline.slice(0, 100));
  return pids.size === 0 ? [] : [`still running after close: ${[...pids].map(([pid, cmd]) => `${pid} ${cmd}`).join('; ')}`];
}

async function main(): Promise<number> {
  const opts = options();
  requireBuiltSupervisor();
  const rule: SoakRule = { ...DEFAULT_SOAK_RULE, floorMiBPerHour: opts.floorMiBPerHour };
  const ids = Array.from({ length: opts.instances }, (_, i) => `soak-${i + 1}`);
  if (opts.injectLeak !== null && !ids.includes(opts.injectLeak)) throw new UsageError(`--inject-leak must name one of ${ids.join(', ')}`);
  const machine = machineFacts(CHROME_PATH, chromiumProcessCount());
  progress(machine.replaceAll('\n', '; '));
  progress(
    `soak: ${opts.instances} instances for ${opts.minutes} min, a sample every ${opts.sampleMs / 1000} s, ` +
      `the first ${opts.warmupMs / 1000} s not judged; report in ${opts.out}`,
  );
  const load = new LoadWatch();
  progress(`load average at start ${load.atStart}`);

  let stopRequested = false;
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopRequested) return progress(`${signal}: already stopping`);
    stopRequested = true;
    wake();
    progress(`${signal}: stopping the soak and cleaning up`);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);

  const supervisor = newSeries('supervisor');
  const instances = ids.map(newSeries);
  const problems: string[] = [];
  let run: DemoRun | undefined;
  let steadyAt: number | null = null;
  let lastTick: number | null = null;
  let apiFailures = 0;
  try {
    progress('starting MariaDB and the supervisor');
    run = await DemoRun.start({ name: 'soak', outDir: opts.out, settings: SHORT_LOOPS, chromePath: CHROME_PATH });
    if (!stopRequested) {
      progress(`linking ${ids.length} instances through the demo scan`);
      const linking = run.link(ids);
      // If a signal wins the race, the link's polling may still fail afterwards: that is no error of the soak.
      linking.catch(() => undefined);
      await Promise.race([linking, stopped]);
    }
    if (!stopRequested) {
      steadyAt = Date.now();
      const endAt = steadyAt + opts.minutes * 60_000;
      progress(`all ${ids.length} CONNECTED; sampling until ${new Date(endAt).toISOString()}`);
      let lastProgress = 0;
      let lastLeak = -Infinity;
      for (let k = 0; !stopRequested; k++) {
        const due = steadyAt + k * opts.sampleMs;
        if (due > endAt) break;
        await Promise.race([sleep(Math.max(0, due - Date.now())), stopped]);
        if (stopRequested) break;
        if (opts.injectLeak !== null && due >= steadyAt + opts.warmupMs && due - lastLeak >= opts.injectEveryMs) {
          lastLeak = due;
          await run.api.demo(opts.injectLeak, 'leak').catch((err: unknown) => progress(`--inject-leak failed: ${describeError(err)}`));
        }
        let list: InstanceSummary[] | null = null;
        try {
          list = await run.api.instances();
        } catch (err) {
          apiFailures++;
          progress(`GET /api/instances failed: ${describeError(err)}`);
        }
        const t = Date.now();
        lastTick = t;
        sampleSupervisor(run, supervisor, t);
        // Without the API's answer there is no knowing which worker is whose now: those ticks are missing, not guessed.
        const byId = new Map((list ?? []).map((i) => [i.id, i]));
        for (const s of instances) {
          if (list === null) {
            s.pids.push(null);
            s.missing++;
          } else sampleInstance(byId.get(s.name), s, t);
        }
        if (!run.supervisor.alive) {
          problems.push(`the supervisor exited during the soak; see ${run.logFile}`);
          break;
        }
        if (t - lastProgress >= 60_000 || due + opts.sampleMs > endAt) {
          lastProgress = t;
          const fleet = instances.reduce((sum, s) => sum + (s.samples.at(-1)?.t === t ? s.samples.at(-1)!.pssBytes : 0), 0);
          const connected = (list ?? []).filter((i) => ids.includes(i.id) && i.connectionStatus === 'CONNECTED').length;
          progress(
            `sample ${k + 1}: supervisor ${mebibytes(supervisor.samples.at(-1)?.pssBytes ?? null)} MiB, ` +
              `instances ${mebibytes(fleet)} MiB in all, ${connected}/${ids.length} CONNECTED`,
          );
        }
      }
    }
  } finally {
    if (run) {
      progress('stopping the supervisor and MariaDB');
      problems.push(...(await run.close().catch((err: unknown) => [`close failed: ${describeError(err)}`])));
      problems.push(...leftovers(run));
    }
  }
  if (steadyAt === null) {
    problems.push('the soak stopped before the instances were linked: nothing was sampled');
  }

  const warmupEndsAt = (steadyAt ?? 0) + opts.warmupMs;
  const judged = [supervisor, ...instances].map((s) => judge(s, warmupEndsAt, rule));
  const sup = judged[0]!;
  const loadSummary = load.summary();
  const supervisorLine = !sup.verdict.judged
    ? `Supervisor: not judged (${sup.verdict.reason}).`
    : sup.verdict.growing
      ? `Supervisor PSS is GROWING: ${signed(sup.verdict.slopeMiBPerHour)} ± ${plain(sup.verdict.spreadMiBPerHour)} MiB/h (${sup.verdict.reason}).`
      : `Supervisor: no upward PSS trend beyond noise, ${signed(sup.verdict.slopeMiBPerHour)} ± ${plain(sup.verdict.spreadMiBPerHour)} MiB/h (${sup.verdict.reason}).`;
  const growingInstances = judged.slice(1).filter((j) => j.verdict.growing);
  const failures = soakFailures({
    supervisor: sup.verdict,
    instances: judged.slice(1).map((j) => ({ name: j.series.name, lives: j.lives, restarts: j.restarts, notConnected: j.series.notConnected, missing: j.series.missing })),
    apiFailures,
    interrupted: stopRequested,
  });
  const exitCode = failures.length > 0 || problems.length > 0 ? 1 : 0;
  const spanMin = steadyAt === null || lastTick === null ? 0 : (lastTick - steadyAt) / 60_000;

  const report = {
    machine,
    load: loadSummary,
    options: opts,
    rule,
    settings: SHORT_LOOPS,
    steadyAt: steadyAt === null ? null : new Date(steadyAt).toISOString(),
    warmupEndsAt: steadyAt === null ? null : new Date(warmupEndsAt).toISOString(),
    sampledMinutes: spanMin,
    interrupted: stopRequested,
    apiFailures,
    processes: judged.map(({ series, verdict, restarts }) => ({
      name: series.name,
      verdict: { ...verdict, label: verdictLabel(verdict) },
      restarts,
      notConnectedSamples: series.notConnected,
      missingSamples: series.missing,
      samples: series.samples,
    })),
    failures,
    problems,
    exitCode,
  };
  writeFileSync(join(opts.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);

  const lines = [
    machine,
    `Load: ${loadSummary}`,
    '',
    table(judged),
    '',
    supervisorLine,
    growingInstances.length > 0 ? `Instances GROWING: ${growingInstances.map((j) => j.series.name).join(', ')}.` : 'No instance GROWING.',
    `${opts.instances} instances sampled for ${spanMin.toFixed(1)} min${stopRequested ? ' (interrupted)' : ''}, every ${opts.sampleMs / 1000} s; ` +
      `the first ${opts.warmupMs / 1000} s after all were CONNECTED are not judged. Check loops: ${Object.entries(SHORT_LOOPS)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}.`,
    'Supervisor: PSS of its own process. Instance: PSS of its worker and every descendant (its Chromium), summed; a restart starts the series of a new worker.',
    `Slope: least squares over the judged samples; spread: its standard error. GROWING: slope >= ${rule.floorMiBPerHour} MiB/h, ` +
      'slope − 2 × spread > 0, and both halves of the window rising (one step then a plateau is not growth); flat: anything else, ' +
      `falling included; not judged below ${Math.max(rule.minSamples, 4)} samples.`,
    "PSS divides shared pages among all their sharers, including other programs' processes: other work on the machine moves it.",
    ...failures.map((f) => `FAIL: ${f}`),
    ...problems.map((p) => `PROBLEM: ${p}`),
    exitCode === 0 ? 'PASS: nothing grew, restarted, disconnected or failed.' : `FAILED (${failures.length + problems.length}).`,
    `Report: ${join(opts.out, 'report.json')}; supervisor log: ${join(opts.out, 'supervisor.log')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return exitCode;
}

runScriptMain('soak', main);
