/** Pure formatting helpers: no DOM, no clock of their own (callers pass `now`). */

const pad = (n) => String(n).padStart(2, '0');

/** "42s", "3m 04s", "2h 05m", "3d 4h": short enough for a table cell, precise where it matters. */
export function formatDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${pad(m % 60)}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

const MIB = 1024 * 1024;

/** Bytes as MiB (GiB from 1 GiB up); "—" when unknown. */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  const mib = bytes / MIB;
  if (mib >= 1024) return `${(mib / 1024).toFixed(mib >= 10240 ? 0 : 1)} GiB`;
  return `${mib >= 100 ? Math.round(mib) : mib.toFixed(1)} MiB`;
}

/** The colour family of a connection status. */
export function statusTone(status) {
  switch (status) {
    case 'CONNECTED':
      return 'ok';
    case 'QR_REQUIRED':
      return 'wait';
    case 'INITIALIZING':
    case 'LOADING':
    case 'RECONNECTING':
      return 'busy';
    case 'AUTH_FAILURE':
      return 'bad';
    default:
      return 'off';
  }
}

/** The colour family of a health verdict. */
export function healthTone(health) {
  switch (health) {
    case 'healthy':
      return 'ok';
    case 'degraded':
    case 'stuck':
      return 'warn';
    case 'zombie':
    case 'corrupted':
      return 'bad';
    default:
      return 'off';
  }
}

/** "+15551234567 (Sales)" from the API's `{wid, pushName}`; null when no phone is linked. */
export function phoneLabel(phone) {
  if (!phone || !phone.wid) return null;
  const number = `+${String(phone.wid).split('@')[0]}`;
  return phone.pushName ? `${number} (${phone.pushName})` : number;
}

/** "ABCD-EFGH": a pairing code as the phone shows it. */
export function formatPairingCode(code) {
  return code.length === 8 ? `${code.slice(0, 4)}-${code.slice(4)}` : code;
}

/**
 * SVG polyline points for a sparkline of `samples` ({t, v}) in a width × height box, oldest on
 * the left. The value axis starts at the smallest sample so a slow climb is visible; a flat
 * series is drawn through the middle.
 */
export function sparklinePoints(samples, width, height, pad = 2) {
  const points = samples.filter((s) => Number.isFinite(s.t) && Number.isFinite(s.v)).sort((a, b) => a.t - b.t);
  if (points.length < 2) return '';
  const t0 = points[0].t;
  const span = points[points.length - 1].t - t0 || 1;
  const values = points.map((p) => p.v);
  const lo = Math.min(...values);
  const range = Math.max(...values) - lo;
  const x = (t) => pad + ((t - t0) / span) * (width - 2 * pad);
  const y = (v) => (range === 0 ? height / 2 : height - pad - ((v - lo) / range) * (height - 2 * pad));
  return points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
}

/** Counts of each value, largest first: [["CONNECTED", 3], ["QR_REQUIRED", 1]]. */
export function countBy(values) {
  const counts = new Map();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])));
}
