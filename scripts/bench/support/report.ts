/** The footprint bench's numbers and how they are printed. Pure: no I/O here. */
import { DASH, mebibytes, renderTable, seconds } from './table.js';

/** Memory of one instance, in bytes; for N instances, the sum over them divided by N. */
export interface InstanceMemory {
  nodePss: number;
  nodeAnon: number;
  nodeRss: number;
  browserPss: number;
  browserAnon: number;
  browserRss: number;
  browserProcesses: number;
}

function combine(samples: readonly InstanceMemory[], reduce: (values: number[]) => number): InstanceMemory {
  const field = (name: keyof InstanceMemory) => reduce(samples.map((m) => m[name]));
  return {
    nodePss: field('nodePss'),
    nodeAnon: field('nodeAnon'),
    nodeRss: field('nodeRss'),
    browserPss: field('browserPss'),
    browserAnon: field('browserAnon'),
    browserRss: field('browserRss'),
    browserProcesses: field('browserProcesses'),
  };
}

/** One measured run of one variant with N instances. */
export interface RunResult {
  /** Fork to `qr` on a fresh profile, slowest of the N instances. */
  qrMs: number;
  /** Fork to `ready` on a paired profile, slowest of the N instances. */
  readyMs: number;
  afterReady: InstanceMemory;
  afterAlloc: InstanceMemory;
}

export interface Row {
  variant: string;
  instances: number;
  runs: RunResult[];
  failedRuns: number;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Memory of N instances measured together, per instance: the sum over them divided by N. */
export function perInstance(samples: readonly InstanceMemory[]): InstanceMemory {
  return combine(samples, (values) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length));
}

/** Field by field median of repeated samples, so a passing spike does not make the figure. */
export function medianMemory(samples: readonly InstanceMemory[]): InstanceMemory {
  return combine(samples, (values) => median(values) ?? 0);
}


/** "after ready / after allocation" medians of one memory figure. */
function memoryCell(runs: readonly RunResult[], pick: (m: InstanceMemory) => number): string {
  return `${mebibytes(median(runs.map((r) => pick(r.afterReady))))} / ${mebibytes(median(runs.map((r) => pick(r.afterAlloc))))}`;
}

/** One markdown row per variant × N, every figure a median over that row's successful runs. */
export function markdownTable(rows: readonly Row[], allocMb: number): string {
  const header = [
    'variant',
    'N',
    'runs ok',
    'to qr (s)',
    'to ready, restored (s)',
    'worker/Node PSS',
    'browser tree PSS',
    'total PSS / instance',
    'anon PSS / instance',
    'total RSS / instance',
    'browser processes',
  ];
  const body = rows.map(({ variant, instances, runs, failedRuns }) => {
    const processes = median(runs.map((r) => r.afterReady.browserProcesses));
    return [
      variant,
      String(instances),
      `${runs.length}/${runs.length + failedRuns}`,
      seconds(median(runs.map((r) => r.qrMs))),
      seconds(median(runs.map((r) => r.readyMs))),
      memoryCell(runs, (m) => m.nodePss),
      memoryCell(runs, (m) => m.browserPss),
      memoryCell(runs, (m) => m.nodePss + m.browserPss),
      memoryCell(runs, (m) => m.nodeAnon + m.browserAnon),
      memoryCell(runs, (m) => m.nodeRss + m.browserRss),
      processes === null ? DASH : String(Math.round(processes)),
    ];
  });
  return [
    renderTable(header, body, 3),
    '',
    `Memory in MiB per instance (sum over the N instances / N), each cell "after ready / after the page allocated ${allocMb} MiB".`,
    'PSS divides each shared page among the processes mapping it, including other programs\' Chromium and Node, so its file part',
    '(the binaries) moves with whatever else runs; anon PSS (Pss_Anon + Pss_Shmem: heaps, caches, IPC buffers) does not.',
    'RSS counts every shared page in full in every process that maps it.',
    'Times from the fork of the Node process to the event, slowest of the N instances started together. Medians over the runs.',
  ].join('\n');
}
