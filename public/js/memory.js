/*
 * Reads `GET /api/memory/report` into what the dashboard draws. Written against the report's
 * documented content (per instance: worker PSS, browser PSS, page heap, trend and samples, cap
 * usage; the fleet's total against its cap) while accepting the obvious spellings of each field,
 * so a renamed field shows "—" instead of breaking the page.
 */

const MIB = 1024 * 1024;
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** `<base>Bytes` / `<base>PssBytes`, else `<base>Mb` / `<base>MB` in MiB, else `<base>.pssBytes`. */
function bytes(obj, base) {
  if (!obj) return null;
  for (const key of [`${base}Bytes`, `${base}PssBytes`]) if (num(obj[key]) !== null) return obj[key];
  for (const key of [`${base}Mb`, `${base}MB`, `${base}PssMb`]) if (num(obj[key]) !== null) return obj[key] * MIB;
  const nested = obj[base];
  if (nested && typeof nested === 'object') return num(nested.pssBytes) ?? num(nested.bytes);
  return null;
}

function sampleTime(s) {
  if (num(s.t) !== null) return s.t;
  const text = s.at ?? s.t ?? s.time;
  return typeof text === 'string' ? Date.parse(text) : NaN;
}

function sampleValue(s) {
  if (num(s.v) !== null) return s.v;
  const total = bytes(s, 'total');
  if (total !== null) return total;
  const worker = bytes(s, 'worker') ?? bytes(s, 'workerPss');
  const browser = bytes(s, 'browser') ?? bytes(s, 'browserPss');
  return worker === null && browser === null ? NaN : (worker ?? 0) + (browser ?? 0);
}

function samplesOf(entry) {
  const trend = entry.trend && typeof entry.trend === 'object' ? entry.trend : null;
  const raw = [entry.samples, entry.history, trend?.samples, Array.isArray(entry.trend) ? entry.trend : null].find(Array.isArray) ?? [];
  return raw.filter((s) => s && typeof s === 'object').map((s) => ({ t: sampleTime(s), v: sampleValue(s) }));
}

function timeOf(value) {
  if (num(value) !== null) return value;
  return typeof value === 'string' ? Date.parse(value) : NaN;
}

function instanceEntry(entry, minSamples) {
  const sampleCount = num(entry.samples) ?? num(entry.sampleCount);
  // A slope from a handful of samples is noise (thousands of MB/h after a start): shown once the leak rule would use it.
  const trustTrend = sampleCount === null || minSamples === null || sampleCount >= minSamples;
  const worker = bytes(entry, 'workerPss') ?? bytes(entry, 'worker');
  const browser = bytes(entry, 'browserPss') ?? bytes(entry, 'browser');
  const trend = entry.trend && typeof entry.trend === 'object' && !Array.isArray(entry.trend) ? entry.trend : {};
  return {
    workerBytes: worker,
    browserBytes: browser,
    pageHeapBytes: bytes(entry, 'pageHeap'),
    totalBytes: bytes(entry, 'total') ?? (worker === null && browser === null ? null : (worker ?? 0) + (browser ?? 0)),
    capUsedPercent: num(entry.capUsedPercent) ?? num(entry.capPercent),
    running: entry.running !== false,
    // running | launching | waiting | stopped: a start in progress is not "not running".
    state: typeof entry.state === 'string' ? entry.state : entry.running === false ? 'stopped' : 'running',
    trendMbPerHour: trustTrend ? (num(entry.trendMbPerHour) ?? num(trend.mbPerHour) ?? num(trend.slopeMbPerHour)) : null,
    leakReason: typeof entry.leakReason === 'string' ? entry.leakReason : null,
    leakSuspected: entry.leakSuspected === true || trend.leakSuspected === true,
    samples: samplesOf(entry),
    sampledAt: timeOf(entry.sampledAt ?? entry.at),
    // Some reports give only how many samples the server holds; a drop means a new process.
    sampleCount,
  };
}

function fleetEntry(fleet) {
  if (!fleet || typeof fleet !== 'object') return null;
  const totalBytes = bytes(fleet, 'total');
  const capBytes = bytes(fleet, 'cap');
  if (totalBytes === null && capBytes === null) return null;
  const usedPercent = num(fleet.usedPercent) ?? (totalBytes !== null && capBytes ? (totalBytes / capBytes) * 100 : null);
  return {
    totalBytes,
    capBytes,
    usedPercent,
    level: typeof fleet.level === 'string' ? fleet.level : null,
    // The start gate beside the measurement it decides on.
    launching: num(fleet.launching),
    launchLimit: num(fleet.launchLimit),
    waiting: num(fleet.waiting),
    expectedBytes: bytes(fleet, 'expected'),
    refusingStarts: typeof fleet.refusingStarts === 'string' ? fleet.refusingStarts : null,
    measuredAt: timeOf(fleet.measuredAt),
  };
}

/** One instance's entry as `GET /api/instance/:id/details` gives it (`memory`), read like a report's. */
export function readInstanceMemory(entry, minSamples = null) {
  return entry && typeof entry === 'object' ? instanceEntry(entry, minSamples) : null;
}

/** The report as `{ fleet, byId: Map<id, entry> }`; instances may come as an array (with `id`) or keyed by id. */
export function readMemoryReport(report) {
  const byId = new Map();
  const minSamples = num(report?.thresholds?.leakMinSamples);
  const instances = report?.instances;
  if (Array.isArray(instances)) {
    for (const entry of instances) {
      const id = entry?.id ?? entry?.instanceId;
      if (typeof id === 'string') byId.set(id, instanceEntry(entry, minSamples));
    }
  } else if (instances && typeof instances === 'object') {
    for (const [id, entry] of Object.entries(instances)) if (entry && typeof entry === 'object') byId.set(id, instanceEntry(entry, minSamples));
  }
  return { fleet: fleetEntry(report?.fleet ?? report?.total), byId };
}

/**
 * When the report carries no sample series, the sparkline is drawn from the readings this page
 * has seen (one per refresh), restarted when the server's sample count drops (a new process).
 * Returns the histories to keep for the next call; fills each entry's `samples`.
 */
export function keepHistory(memory, previous, limit = 120) {
  const next = new Map();
  for (const [id, entry] of memory.byId) {
    if (entry.samples.length >= 2) continue;
    const before = previous.get(id);
    const restarted = before && entry.sampleCount !== null && before.count !== null && entry.sampleCount < before.count;
    const points = restarted ? [] : [...(before?.points ?? [])];
    const point = { t: entry.sampledAt, v: entry.totalBytes };
    if (Number.isFinite(point.t) && point.v !== null && points.at(-1)?.t !== point.t) points.push(point);
    const kept = points.slice(-limit);
    next.set(id, { points: kept, count: entry.sampleCount });
    entry.samples = kept;
  }
  return next;
}
