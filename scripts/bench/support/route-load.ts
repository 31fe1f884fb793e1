import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadRequest, LoadResult } from './api-load.js';

/** One route under load: GET on `paths` in turn (one path, or one per instance). */
export interface RouteLoadOptions {
  /** e.g. `http://127.0.0.1:41234` */
  baseUrl: string;
  paths: readonly string[];
  headers: Record<string, string>;
  connections: number;
  /** Requests per second, open loop (paced-load.ts); absent: autocannon's closed loop, as fast as the connections get answers. */
  rate?: number;
  durationSec: number;
  /** A response slower than this counts as a timeout (and an error). */
  timeoutSec: number;
  /** The cores the load generator's process may run on (`taskset -c`), e.g. `1`; null: wherever the kernel puts it. */
  cpus: string | null;
}

/**
 * What the table shows of one route's load: autocannon's figures, latency in ms at its 1 ms
 * resolution. `durationSec` is the seconds the load really ran; `requestsPerSec` the mean of its
 * per-second samples; `total` every completed response whatever its status; `errors` connection
 * errors and timeouts.
 */
export type RouteLoad = LoadResult;

export interface RunningLoad {
  readonly done: Promise<RouteLoad>;
  /** Ends the load early (Ctrl+C); `done` then rejects. */
  stop(): void;
}

const LOAD_SCRIPT = fileURLToPath(new URL('./api-load.ts', import.meta.url));
/** Past the load's duration and its last responses' timeout, the process has this long to print and exit. */
const EXIT_GRACE_MS = 15_000;

/** Whether `taskset` (util-linux) can run here: the load generator is pinned with it. */
export function tasksetAvailable(): boolean {
  const r = spawnSync('taskset', ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/**
 * Pins every thread of the process `pid` to `cpus` (`taskset -a -p -c`); returns the affinity
 * taskset reports afterwards, or throws with its message.
 */
export function pinProcess(pid: number, cpus: string): string {
  const r = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`taskset -a -p -c ${cpus} ${pid}: ${r.stderr.trim() || `exit ${r.status}`}`);
  return affinityOf(pid);
}

/** The cores `pid` may run on, as `taskset -c -p` lists them (e.g. `0`, `0,1`). */
export function affinityOf(pid: number): string {
  const r = spawnSync('taskset', ['-c', '-p', String(pid)], { encoding: 'utf8' });
  return /:\s*(\S+)\s*$/.exec(r.stdout ?? '')?.[1] ?? 'unknown';
}

/**
 * Starts an autocannon load in a process of its own (scripts/bench/support/api-load.ts under
 * tsx), pinned to `cpus` with taskset when given, so that the client's work (building requests,
 * parsing responses, histograms) never runs on the server's event loop and, pinned, not on the
 * server's core either. The load is handed over as JSON on the command line; the result comes
 * back as one line of JSON on stdout. Bounded by `durationSec` plus `timeoutSec` for the last
 * responses plus a grace for the process to start and exit; past that it is killed.
 */
export function startRouteLoad(options: RouteLoadOptions): RunningLoad {
  if (options.paths.length === 0) throw new Error('a route load needs at least one path');
  const request: LoadRequest = {
    url: options.baseUrl,
    paths: [...options.paths],
    headers: options.headers,
    connections: options.connections,
    ...(options.rate ? { rate: options.rate } : {}),
    durationSec: options.durationSec,
    timeoutSec: options.timeoutSec,
  };
  const node = [process.execPath, '--import', 'tsx', LOAD_SCRIPT, JSON.stringify(request)];
  const [command, ...args] = options.cpus === null ? node : ['taskset', '-c', options.cpus, ...node];
  let child: ChildProcess | null = null;
  let stopped = false;
  const done = new Promise<RouteLoad>((resolve, reject) => {
    const proc = (child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const limit = setTimeout(() => proc.kill('SIGKILL'), (options.durationSec + options.timeoutSec) * 1000 + EXIT_GRACE_MS);
    proc.on('error', (err) => {
      clearTimeout(limit);
      reject(err);
    });
    proc.on('close', (code, signal) => {
      clearTimeout(limit);
      if (stopped) return reject(new Error('the load was stopped before its end'));
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        return reject(new Error(`the load generator ended with ${signal ?? `exit ${code}`}: ${stderr.trim().slice(-500) || 'no output'}`));
      }
      resolve(JSON.parse(line) as RouteLoad);
    });
  });
  return {
    done,
    stop: () => {
      stopped = true;
      child?.kill('SIGTERM');
    },
  };
}
