import { h } from './dom.js';
import { countBy, formatBytes, formatDuration, healthTone, statusTone } from './format.js';

const STREAM_LABEL = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting' };

function chips(title, counts, tone) {
  return h(
    'div',
    { class: 'chips' },
    h('span', { class: 'chips-title', text: title }),
    counts.length === 0 ? h('span', { class: 'muted', text: 'none' }) : counts.map(([value, n]) => h('span', { class: `badge tone-${tone(value)}` }, `${value} `, h('b', { text: String(n) }))),
  );
}

/** The meta line: version, uptime (ticking), database, live-stream state. */
export function renderMeta(el, { health, healthError, stream, streamRetryMs }) {
  const parts = [];
  if (health) {
    if (health.version) parts.push(h('span', { text: `v${health.version}` }));
    if (Number.isFinite(health.uptimeSeconds)) {
      const startedAt = new Date(Date.now() - health.uptimeSeconds * 1000).toISOString();
      parts.push(h('span', {}, 'up ', h('span', { dataset: { since: startedAt } }, formatDuration(health.uptimeSeconds * 1000))));
    }
    if (health.database) parts.push(h('span', { class: `badge tone-${health.database === 'up' ? 'ok' : 'bad'}`, text: `DB ${health.database}` }));
  }
  if (healthError) parts.push(h('span', { class: 'badge tone-bad', text: healthError }));
  const streamText = stream === 'reconnecting' && streamRetryMs ? `reconnecting in ${Math.round(streamRetryMs / 1000)}s` : STREAM_LABEL[stream] ?? stream;
  parts.push(h('span', { class: `stream stream-${stream}`, title: 'live updates (Server-Sent Events)' }, h('span', { class: 'dot' }), ` ${streamText}`));
  el.replaceChildren(...parts);
}

/** Counts by status and health, from the instances on screen (so they change with them). */
export function renderSummary(el, instances) {
  const list = [...instances.values()];
  const enabled = list.filter((i) => i.enabled === true).length;
  // `enabled: null`: the database is away and was never read for it.
  const unknown = list.filter((i) => i.enabled !== true && i.enabled !== false).length;
  const counts = unknown > 0 ? ` (${enabled} enabled, ${unknown} unknown)` : ` (${enabled} enabled)`;
  el.replaceChildren(
    h('div', { class: 'chips' }, h('span', { class: 'chips-title', text: 'Instances' }), h('b', { text: String(list.length) }), h('span', { class: 'muted', text: counts })),
    chips('Status', countBy(list.map((i) => i.connectionStatus)), statusTone),
    chips('Health', countBy(list.map((i) => i.health)), healthTone),
  );
}

/** Fleet memory against its cap, or why it is not shown. */
export function renderFleetMemory(el, { memory, memoryError, fleetAlert }) {
  const children = [h('span', { class: 'chips-title', text: 'Memory' })];
  const fleet = memory?.fleet;
  if (memoryError) children.push(h('span', { class: 'muted', text: memoryError }));
  else if (!memory) children.push(h('span', { class: 'muted', text: 'loading…' }));
  else if (!fleet) children.push(h('span', { class: 'muted', text: 'no fleet total in the report' }));
  else {
    const pct = fleet.usedPercent ?? 0;
    const level = fleet.level ?? (pct >= 95 ? 'critical' : pct >= 80 ? 'warn' : 'ok');
    const fill = h('span', { class: `bar-fill level-${level}` });
    fill.style.width = `${Math.min(100, Math.max(0, pct)).toFixed(1)}%`;
    children.push(
      h('span', { text: `${formatBytes(fleet.totalBytes)} of ${formatBytes(fleet.capBytes)} cap (${Math.round(pct)}%)` }),
      h('span', { class: 'bar', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.round(pct), 'aria-label': 'fleet memory against its cap' }, fill),
      level !== 'ok' && h('span', { class: `badge tone-${level === 'critical' ? 'bad' : 'warn'}`, text: level }),
      fleet.launching !== null &&
        fleet.launchLimit !== null &&
        h('span', { class: 'muted gate-launching', text: `launching ${fleet.launching}/${fleet.launchLimit}` }),
      fleet.waiting > 0 &&
        h('span', { class: 'badge tone-warn gate-waiting', title: fleet.refusingStarts ?? '', text: `${fleet.waiting} waiting to start` }),
    );
  }
  if (fleetAlert) children.push(h('span', { class: 'alert tone-warn', text: `${fleetAlert.level}: ${fleetAlert.message}` }));
  el.replaceChildren(...children.filter(Boolean));
}
