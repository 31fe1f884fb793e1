import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { between, pick, type Random } from '../../lib/seeded-random.js';
import { sleep } from '../../lib/timeout.js';
import { sendHostileRequests } from '../../tests/support/hostile-requests.js';
import type { Receiver } from '../../tests/support/webhook-receiver.js';
import type { InstanceSummary } from '../support/api-client.js';
import type { DemoRun } from '../support/demo-run.js';
import { NODE_INJECTORS, type NodeFaultContext } from './node-faults.js';
import { fleetProcesses } from './processes.js';
import type { ChaosTarget } from './target.js';

/** The hostile burst's source address (TEST-NET-3), reported by the trusted proxy in front. */
const HOSTILE_ADDRESS = '203.0.113.7';

export const FaultKind = {
  CHROMIUM_KILL: 'chromium_sigkill',
  WORKER_KILL: 'worker_sigkill',
  WORKER_STOP: 'worker_sigstop',
  FREEZE: 'page_freeze',
  CRASH: 'tab_crash',
  CONFLICT: 'conflict',
  UNPAIR: 'unpaired',
  MEMORY_GROWTH: 'memory_growth',
  MYSQL_STOP: 'mysql_stop',
  SUPERVISOR_KILL: 'supervisor_sigkill',
  SUPERVISOR_TERM: 'supervisor_sigterm',
  HOSTILE_BURST: 'hostile_burst',
  WEBHOOK_OUTAGE: 'webhook_outage',
  NODE_KILL: 'node_sigkill',
  NODE_STOP: 'node_sigstop',
  NODE_CUT: 'node_mysql_cut',
  NODE_TERM: 'node_sigterm',
} as const;
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];
/** The deck of one supervisor (`--nodes 1`): every kind that is not a node's. */
export const FAULT_KINDS: readonly FaultKind[] = Object.values(FaultKind).filter((k) => !k.startsWith('node_'));
/** A node taken away: SIGKILL (restarted empty), SIGSTOP for 2 × TTL, its own way to MySQL cut, SIGTERM (hand-over, restarted). */
export const NODE_FAULT_KINDS: readonly FaultKind[] = Object.values(FaultKind).filter((k) => k.startsWith('node_'));
/**
 * Kinds whose meaning is the whole product, left out with several nodes: a full database outage
 * stops every session of a cluster by design (no node can tell it from being cut off), and the
 * supervisor's SIGKILL and SIGTERM become the node faults.
 */
const WHOLE_PRODUCT_KINDS: readonly FaultKind[] = [FaultKind.MYSQL_STOP, FaultKind.SUPERVISOR_KILL, FaultKind.SUPERVISOR_TERM];
/** The deck of `--nodes N` (N > 1): the instance faults, aimed at whichever node runs the instance, and the node faults. */
export const NODES_DECK: readonly FaultKind[] = [...FAULT_KINDS.filter((k) => !WHOLE_PRODUCT_KINDS.includes(k)), ...NODE_FAULT_KINDS];

export function deckFor(nodes: number): readonly FaultKind[] {
  return nodes > 1 ? NODES_DECK : FAULT_KINDS;
}

export interface ChaosOptions {
  workerStopMs: number;
  mysqlDownMs: readonly [number, number];
  hostileRequests: number;
  webhookOutageMs: number;
  /** Whole graceful-shutdown budget the supervisor runs with. */
  shutdownTimeoutMs: number;
}

export interface ChaosContext {
  target: ChaosTarget;
  /** One supervisor: its process and database, for the faults whose meaning is the whole product. */
  single?: DemoRun;
  /** Several nodes: for the node faults. */
  nodes?: NodeFaultContext;
  receiver: Receiver;
  random: Random;
  options: ChaosOptions;
  progress: (message: string) => void;
  /** Until when (epoch ms) the webhook receiver fails on purpose; 0: it does not. */
  webhookOutageUntil: number;
  /**
   * Called once the target is chosen, right before the fault hits (the message stream arms a hung
   * send here so a kill lands on a message `sending`); its notes join the fault's.
   */
  beforeHit?: (kind: FaultKind, target: InstanceSummary | null) => Promise<string[]>;
}

/** What the run waits for after a fault before it checks the invariants. */
export type Settle =
  /** The target CONNECTED again on a new worker (its old one was killed, frozen, crashed, replaced). */
  | 'new_worker'
  /** The target CONNECTED and healthy, on whichever worker (a stopped worker may be resumed or replaced). */
  | 'healthy'
  /** The target shows a QR (it was unpaired); the run scans it, as its owner would, then CONNECTED. */
  | 'relink'
  /** Every instance CONNECTED (the supervisor restarted, or nothing was aimed at an instance). */
  | 'all_connected';

export interface Injection {
  kind: FaultKind;
  target: string | null;
  pidBefore: number | null;
  /** When the fault hit. */
  at: number;
  /** mysql_stop: when the database was started again. */
  downUntil?: number;
  settle: Settle;
  /** Violations seen while injecting (a 5xx in the burst, a failed graceful exit…). */
  violations: string[];
  notes: string[];
  /** A node fault: the node taken away and how many instances moved off it. */
  node?: { id: string; moved: number };
}

export type Injector = (ctx: ChaosContext, target: InstanceSummary | null) => Promise<Omit<Injection, 'kind' | 'target' | 'pidBefore'>>;

const signal = (pid: number | null | undefined, sig: NodeJS.Signals): boolean => {
  if (!pid) return false;
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
};

const demo = (action: string, settle: Settle): Injector => async (ctx, target) => {
  const at = Date.now();
  await ctx.target.api().demo(target!.id, action);
  return { at, settle, violations: [], notes: [] };
};

/** What one `leak` demo action allocates in the page (src/api/routes/demo.ts). */
const LEAK_STEP_MB = 50;

/** The run's one supervisor, for a fault that only has a meaning with one. */
const single = (ctx: ChaosContext): DemoRun => {
  if (!ctx.single) throw new Error('this fault needs the run of one supervisor (--nodes 1)');
  return ctx.single;
};

const INJECTORS: Record<FaultKind, { needsTarget: boolean; inject: Injector }> = {
  ...NODE_INJECTORS,
  [FaultKind.CHROMIUM_KILL]: {
    needsTarget: true,
    inject: async (_ctx, target) => {
      const at = Date.now();
      const hit = signal(target!.worker?.browserPid, 'SIGKILL');
      return { at, settle: 'new_worker', violations: [], notes: hit ? [] : ['no browser pid to kill'] };
    },
  },
  [FaultKind.WORKER_KILL]: {
    needsTarget: true,
    inject: async (_ctx, target) => {
      const at = Date.now();
      signal(target!.worker?.pid, 'SIGKILL');
      return { at, settle: 'new_worker', violations: [], notes: [] };
    },
  },
  [FaultKind.WORKER_STOP]: {
    needsTarget: true,
    inject: async (ctx, target) => {
      const pid = target!.worker!.pid;
      const at = Date.now();
      signal(pid, 'SIGSTOP');
      // The fault took effect only if the worker really is stopped: a signal that missed proves
      // nothing. Delivery is asynchronous, so the state is read until it shows (1 s at most).
      let state = processState(pid);
      for (let i = 0; i < 20 && state !== 'T' && state !== null; i++) {
        await sleep(50);
        state = processState(pid);
      }
      const violations = state === 'T' ? [] : [`SIGSTOP not in effect: worker ${pid} state ${state ?? 'gone'}`];
      await sleep(ctx.options.workerStopMs);
      const resumed = signal(pid, 'SIGCONT');
      return { at, settle: 'healthy', violations, notes: [resumed ? 'resumed after the stop' : 'replaced while stopped'] };
    },
  },
  [FaultKind.FREEZE]: { needsTarget: true, inject: demo('freeze', 'new_worker') },
  [FaultKind.CRASH]: { needsTarget: true, inject: demo('crash', 'new_worker') },
  [FaultKind.CONFLICT]: { needsTarget: true, inject: demo('conflict', 'new_worker') },
  [FaultKind.UNPAIR]: { needsTarget: true, inject: demo('unpair', 'relink') },
  [FaultKind.MEMORY_GROWTH]: {
    needsTarget: true,
    // The page grows by a step a second until the supervisor restarts it (or 20 steps).
    inject: async (ctx, target) => {
      const at = Date.now();
      let steps = 0;
      for (; steps < 20; steps++) {
        const now = (await ctx.target.instances().catch(() => [])).find((i) => i.id === target!.id);
        if (now && now.worker?.pid !== target!.worker?.pid) break;
        await ctx.target.api().demo(target!.id, 'leak').catch(() => undefined);
        await sleep(1_000);
      }
      return { at, settle: 'new_worker', violations: [], notes: [`grew ${steps} × ${LEAK_STEP_MB} MB`] };
    },
  },
  [FaultKind.MYSQL_STOP]: {
    needsTarget: false,
    inject: async (ctx) => {
      const downMs = between(ctx.random, ctx.options.mysqlDownMs[0], ctx.options.mysqlDownMs[1]);
      const run = single(ctx);
      const at = Date.now();
      await run.mysql.stop();
      // The stop script exits 0 even when it stopped nothing: the outage is real only if the server refuses.
      const violations = (await databaseAnswers(run.mysqlUrl)) ? ['the database still answered after it was stopped: no outage happened'] : [];
      await sleep(downMs);
      const downUntil = Date.now();
      await run.mysql.start();
      return { at, downUntil, settle: 'all_connected', violations, notes: [`down ${Math.round((downUntil - at) / 1000)} s (asked ${Math.round(downMs / 1000)} s)`] };
    },
  },
  [FaultKind.SUPERVISOR_KILL]: {
    needsTarget: false,
    inject: async (ctx) => {
      const { supervisor } = single(ctx);
      const at = Date.now();
      supervisor.signal('SIGKILL');
      await supervisor.waitExit(10_000);
      await supervisor.start();
      return { at, settle: 'all_connected', violations: [], notes: [`restarted after ${Math.round((Date.now() - at) / 100) / 10} s`] };
    },
  },
  [FaultKind.SUPERVISOR_TERM]: {
    needsTarget: false,
    inject: async (ctx) => {
      const run = single(ctx);
      const { supervisor } = run;
      const violations: string[] = [];
      const at = Date.now();
      supervisor.signal('SIGTERM');
      const exit = await supervisor.waitExit(ctx.options.shutdownTimeoutMs + 5_000);
      const tookMs = Date.now() - at;
      if (!exit) {
        violations.push(`no exit within ${ctx.options.shutdownTimeoutMs + 5_000} ms of SIGTERM`);
        supervisor.signal('SIGKILL');
        await supervisor.waitExit(10_000);
      } else if (exit.code !== 0) violations.push(`graceful exit code ${exit.code} signal ${exit.signal}`);
      const left = fleetProcesses(run.marker, run.sessionRoot);
      if (left.workers.length + left.chromium.length > 0) {
        violations.push(`left running after the graceful shutdown: ${left.workers.length} workers, ${left.chromium.length} Chromium processes`);
      }
      await supervisor.start();
      return { at, settle: 'all_connected', violations, notes: [`graceful exit in ${(tookMs / 1000).toFixed(1)} s`] };
    },
  },
  [FaultKind.HOSTILE_BURST]: {
    needsTarget: false,
    inject: async (ctx) => {
      const api = ctx.target.api();
      const at = Date.now();
      const { statuses, failures } = await sendHostileRequests({
        base: api.base,
        key: api.key,
        count: ctx.options.hostileRequests,
        seed: Math.floor(ctx.random() * 2 ** 31),
        creates: false,
        // From an address of its own behind the trusted proxy (TRUSTED_PROXIES=127.0.0.1): the
        // attacker's bucket fills, the operator's (this harness, 127.0.0.1) does not.
        forwardedFor: HOSTILE_ADDRESS,
      });
      const answered = await api.request('GET', '/api/health').catch(() => null);
      const violations = failures.slice(0, 10);
      if (answered?.status !== 200) violations.push(`after the burst the API answered the operator's /api/health with ${answered?.status ?? 'nothing'}`);
      // About a fifth of the burst carries no key or a wrong one: far over the per-minute limit.
      if (ctx.options.hostileRequests >= 100 && !statuses.has(429)) violations.push('the burst was never limited (no 429)');
      const summary = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ');
      return { at, settle: 'all_connected', violations, notes: [summary] };
    },
  },
  [FaultKind.WEBHOOK_OUTAGE]: {
    needsTarget: false,
    // The receiver fails while the next faults go on (their notifications queue up); the final
    // check proves each one arrived exactly once after it recovered.
    inject: async (ctx) => {
      const at = Date.now();
      ctx.webhookOutageUntil = at + ctx.options.webhookOutageMs;
      ctx.receiver.respond = () => (Date.now() < ctx.webhookOutageUntil ? 503 : 200);
      return { at, settle: 'all_connected', violations: [], notes: [`receiver answers 503 for ${Math.round(ctx.options.webhookOutageMs / 1000)} s`] };
    },
  },
};

/** The state letter of a process (R, S, T for stopped …) from /proc, or null when it is gone. */
function processState(pid: number): string | null {
  try {
    return /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Whether a MySQL server answers at `url` (a fresh connection, 2 s to connect). */
async function databaseAnswers(url: string): Promise<boolean> {
  try {
    const conn = await mysql.createConnection({ uri: url, connectTimeout: 2_000 });
    await conn.end();
    return true;
  } catch {
    return false;
  }
}

/** Picks a CONNECTED instance with a worker for a fault that needs one. */
function chooseTarget(random: Random, instances: InstanceSummary[]): InstanceSummary | null {
  const candidates = instances.filter((i) => i.connectionStatus === 'CONNECTED' && i.worker);
  return candidates.length === 0 ? null : pick(random, candidates);
}

export async function inject(ctx: ChaosContext, kind: FaultKind): Promise<Injection> {
  const { needsTarget, inject: run } = INJECTORS[kind];
  const target = needsTarget ? chooseTarget(ctx.random, await ctx.target.instances()) : null;
  if (needsTarget && !target) throw new Error(`no CONNECTED instance to aim ${kind} at`);
  const prepared = (await ctx.beforeHit?.(kind, target)) ?? [];
  const injected = await run(ctx, target);
  return { kind, target: target?.id ?? null, pidBefore: target?.worker?.pid ?? null, ...injected, notes: [...prepared, ...injected.notes] };
}

/**
 * The faults of a run, drawn from a deck holding every kind once, reshuffled (seeded) whenever it
 * runs out: random order, yet every kind comes up within each `kinds.length` faults, so even a
 * short run exercises all of them.
 */
export function faultSequence(random: Random, kinds: readonly FaultKind[], count: number): FaultKind[] {
  const sequence: FaultKind[] = [];
  while (sequence.length < count) {
    const deck = [...kinds];
    for (let i = deck.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [deck[i], deck[j]] = [deck[j]!, deck[i]!];
    }
    sequence.push(...deck.slice(0, count - sequence.length));
  }
  return sequence;
}
