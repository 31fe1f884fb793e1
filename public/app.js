import { createApi, keyProblem } from './js/api.js';
import { h } from './js/dom.js';
import { renderFleetMemory, renderMeta, renderSummary } from './js/fleet-header.js';
import { formatDuration } from './js/format.js';
import { InstanceCard } from './js/instance-card.js';
import { keepHistory, readInstanceMemory, readMemoryReport } from './js/memory.js';
import { MESSAGE_EVENTS } from './js/messages.js';
import { NodesPanel } from './js/nodes.js';
import { FLEET_EVENTS, FleetStream } from './js/stream.js';

/*
 * The operator dashboard: one page, no build step. State lives here; cards and the header draw
 * it. Changes arrive over SSE; the only timed fetches are /api/health every 30 s, and the memory
 * report (the start gate's current measurement) and the node list every 5 s, while the tab is visible. While the database is unreachable (an answer says
 * `database: "down"`) a banner says so, the instances keep their live statuses (row-only fields
 * marked stale), and /api/health and the list are read every 5 s until the database is back.
 * A failed or hung request never stops the refreshing: every call has a timeout and every
 * timer is re-armed whatever the answer.
 */

const KEY_STORAGE = 'wa-fleet.apiKey';
const INSTANCE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SLOW_REFRESH_MS = 30_000;
/** The memory report is the start gate's current measurement (at most a second old): read it often enough to follow a start. */
const MEMORY_REFRESH_MS = 5_000;
const DEGRADED_REFRESH_MS = 5_000;
/** The nodes' load and heartbeats, read with the memory report: a drain's hand-overs show within 5 s. */
const NODES_REFRESH_MS = MEMORY_REFRESH_MS;
/** The periodic reads answer from memory: one that takes longer is not coming. */
const READ_TIMEOUT_MS = 15_000;
const DETAILS_DEBOUNCE_MS = 250;

const $ = (id) => document.getElementById(id);
const ui = {
  boot: $('boot'),
  keyScreen: $('key-screen'),
  keyForm: $('key-form'),
  keyInput: $('key-input'),
  keyError: $('key-error'),
  dashboard: $('dashboard'),
  demoBanner: $('demo-banner'),
  dbBanner: $('db-banner'),
  dbPending: $('db-pending'),
  meta: $('meta'),
  summary: $('fleet-summary'),
  memory: $('fleet-memory'),
  nodes: $('nodes'),
  createForm: $('create-form'),
  createId: $('create-id'),
  createStart: $('create-start'),
  createSubmit: $('create-submit'),
  createNote: $('create-note'),
  list: $('instances'),
  changeKey: $('change-key'),
};

const state = {
  key: sessionStorage.getItem(KEY_STORAGE) ?? '',
  demo: false,
  health: null,
  healthError: null,
  stream: 'connecting',
  streamRetryMs: 0,
  list: 'loading',
  listError: null,
  instances: new Map(),
  cards: new Map(),
  memory: null,
  memoryError: null,
  memoryAt: 0,
  memoryHistory: new Map(),
  fleetAlert: null,
  // Per instance, bumped by every live event: a details answer older than the last event is stale.
  eventSeq: new Map(),
  detailTimers: new Map(),
  timers: [],
  memoryTimer: null,
  live: false,
  // 'up' | 'down' | null (not said yet): as the latest answer that names it said.
  database: null,
  resyncTimer: null,
};

const api = createApi(() => state.key);

// Instances moved between nodes (a drain, a claim): the list says which node runs each now.
const nodes = new NodesPanel(ui.nodes, { api, onAuthLost: authLost, onMoved: () => void loadInstances(), timeoutMs: READ_TIMEOUT_MS });

const stream = new FleetStream({
  api,
  onEvent,
  onAuthLost: authLost,
  onState: (s, retryMs) => {
    state.stream = s;
    state.streamRetryMs = retryMs ?? 0;
    drawMeta();
  },
  onOpen: (reopened) => {
    // Events sent while the stream was down are lost: read the whole fleet again.
    if (reopened) {
      void Promise.all([loadInstances(), refreshHealth()]);
      for (const card of state.cards.values()) card.messages.refreshSoon();
    }
  },
});

// ---- screens ------------------------------------------------------------------------------

function show(screen) {
  ui.boot.hidden = screen !== 'boot';
  ui.keyScreen.hidden = screen !== 'key';
  ui.dashboard.hidden = screen !== 'dashboard';
}

function showKeyScreen(message) {
  stopLive();
  show('key');
  ui.keyError.hidden = !message;
  ui.keyError.textContent = message ?? '';
  ui.keyInput.value = '';
  ui.keyInput.focus();
}

function authLost(error) {
  sessionStorage.removeItem(KEY_STORAGE);
  state.key = '';
  const why = error.status === 429 ? error.message : 'The supervisor no longer accepts this API key (it may have changed).';
  showKeyScreen(`${why} Enter the current key.`);
}

function keyRejected(error) {
  if (error.status === 401) return 'That API key was not accepted (401: wrong key). Check API_KEY in the supervisor’s .env, or data/demo/api-key for the demo, and try again.';
  if (error.status === 429) return `Too many wrong keys from this address: ${error.message}. Wait a minute, then try again.`;
  return `Could not check the key: ${error.message}`;
}

async function connect(key) {
  state.key = key;
  show('boot');
  ui.boot.textContent = 'Checking the API key…';
  let health;
  try {
    health = await api('GET', '/api/health');
  } catch (error) {
    if (error.status === 401 || error.status === 429) {
      sessionStorage.removeItem(KEY_STORAGE);
      state.key = '';
    }
    return showKeyScreen(keyRejected(error));
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  applyHealth(health);
  state.demo = await detectDemo(health);
  ui.demoBanner.hidden = !state.demo;
  document.body.classList.toggle('demo', state.demo);
  show('dashboard');
  startLive();
}

/** `/api/health` may say so; otherwise the demo route answers a bad action with 400 where it exists and 404 where not. */
async function detectDemo(health) {
  if (typeof health.demo === 'boolean') return health.demo;
  try {
    await api('POST', '/api/demo/_probe/_probe');
    return true;
  } catch (error) {
    return error.status === 400;
  }
}

function startLive() {
  state.live = true;
  state.list = 'loading';
  drawList();
  void loadInstances();
  void refreshMemory();
  void nodes.refresh();
  stream.start();
  // Said down by the key check: the list just asked for is the first read, the next in 5 s.
  if (state.database === 'down') resyncSoon(DEGRADED_REFRESH_MS);
  state.timers.push(setInterval(tick, 1000));
  state.timers.push(
    setInterval(() => {
      if (document.visibilityState !== 'visible') return;
      void refreshHealth();
    }, SLOW_REFRESH_MS),
    setInterval(() => {
      if (document.visibilityState !== 'visible') return;
      void refreshMemory();
    }, MEMORY_REFRESH_MS),
    setInterval(() => {
      if (document.visibilityState !== 'visible') return;
      void nodes.refresh();
    }, NODES_REFRESH_MS),
  );
}

function stopLive() {
  state.live = false;
  stream.stop();
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
  for (const t of state.detailTimers.values()) clearTimeout(t);
  state.detailTimers.clear();
  clearTimeout(state.memoryTimer);
  clearTimeout(state.resyncTimer);
  state.resyncTimer = null;
  state.database = null;
  drawDatabase();
  for (const card of state.cards.values()) card.el.remove();
  state.cards.clear();
  state.instances.clear();
  state.memory = null;
  state.memoryError = null;
  state.memoryAt = 0;
  state.memoryHistory.clear();
  state.fleetAlert = null;
  nodes.reset();
}

// ---- data ---------------------------------------------------------------------------------

function applyHealth(health) {
  state.health = health && typeof health === 'object' ? health : null;
  state.healthError = null;
  drawMeta();
  noteDatabase(state.health?.database);
  drawDatabase();
}

async function refreshHealth() {
  try {
    applyHealth(await api('GET', '/api/health', undefined, { timeoutMs: READ_TIMEOUT_MS }));
  } catch (error) {
    if (error.status === 401) return authLost(error);
    state.healthError = error.code === 'NETWORK' ? 'supervisor unreachable' : `health: ${error.message}`;
    drawMeta();
  }
}

/**
 * What an answer said of the database. A change reads the whole fleet again (the stale marks
 * come and go with the list, the waiting count with /api/health); while it is down, that is
 * repeated every 5 s, so the banner goes on the first read after the database is back.
 */
function noteDatabase(value) {
  if (value !== 'up' && value !== 'down') return;
  const was = state.database;
  state.database = value;
  if (was === value) return;
  drawDatabase();
  for (const card of state.cards.values()) card.render();
  if (state.live && (was !== null || value === 'down')) resyncSoon(0);
}

function resyncSoon(delay) {
  clearTimeout(state.resyncTimer);
  state.resyncTimer = setTimeout(() => void resync(), delay);
}

async function resync() {
  state.resyncTimer = null;
  try {
    // Health first: on the way back its answer may lag the list's, whose read closes the circuit.
    await refreshHealth();
    await loadInstances();
  } catch {
    // Both report their own failures; whatever happened, the next read is still scheduled.
  } finally {
    if (state.live && state.database === 'down' && state.resyncTimer === null) resyncSoon(DEGRADED_REFRESH_MS);
  }
}

async function loadInstances() {
  try {
    const body = await api('GET', '/api/instances', undefined, { timeoutMs: READ_TIMEOUT_MS });
    const instances = Array.isArray(body?.instances) ? body.instances.filter((i) => i && typeof i.id === 'string') : null;
    if (!instances) throw new Error('the instance list came without its instances');
    state.list = 'ready';
    state.listError = null;
    const seen = new Set(instances.map((i) => i.id));
    for (const id of [...state.instances.keys()]) if (!seen.has(id)) removeInstance(id);
    for (const instance of instances) upsert(instance);
    noteDatabase(body.database);
  } catch (error) {
    if (error.status === 401) return authLost(error);
    state.list = 'error';
    state.listError = error.message;
  }
  drawList();
  drawSummary();
}

/** At most every 5 s: the report is measured when asked (the start gate's measurement, cached a second). */
async function refreshMemory() {
  clearTimeout(state.memoryTimer);
  const wait = state.memoryAt + MEMORY_REFRESH_MS - Date.now();
  if (state.memoryAt && wait > 0) {
    state.memoryTimer = setTimeout(() => void refreshMemory(), wait);
    return;
  }
  state.memoryAt = Date.now();
  try {
    // Its `database` says only whether the fleet's circuit is closed: the banner follows health and the list.
    state.memory = readMemoryReport(await api('GET', '/api/memory/report', undefined, { timeoutMs: READ_TIMEOUT_MS }));
    state.memoryHistory = keepHistory(state.memory, state.memoryHistory);
    state.memoryError = null;
  } catch (error) {
    if (error.status === 401) return authLost(error);
    state.memory = null;
    state.memoryError = error.status === 404 ? 'memory report unavailable (not served by this supervisor)' : `memory report unavailable: ${error.message}`;
  }
  for (const [id, card] of state.cards) card.setMemory(state.memory?.byId.get(id) ?? null);
  drawFleetMemory();
}

function refreshSoon(id) {
  clearTimeout(state.detailTimers.get(id));
  state.detailTimers.set(
    id,
    setTimeout(() => {
      state.detailTimers.delete(id);
      void refreshInstance(id);
    }, DETAILS_DEBOUNCE_MS),
  );
}

async function refreshInstance(id) {
  const seq = state.eventSeq.get(id) ?? 0;
  try {
    const { database, instance, memory } = await api('GET', `/api/instance/${encodeURIComponent(id)}/details`, undefined, { timeoutMs: READ_TIMEOUT_MS });
    noteDatabase(database);
    if ((state.eventSeq.get(id) ?? 0) !== seq) return refreshSoon(id);
    upsert(instance);
    // The details carry the instance's current measurement: a fresh start shows its memory now, not at the next report.
    const measured = readInstanceMemory(memory);
    if (measured && state.memory) {
      const previous = state.memory.byId.get(id);
      if (measured.samples.length < 2 && previous) measured.samples = previous.samples;
      state.memory.byId.set(id, measured);
      state.cards.get(id)?.setMemory(measured);
    }
    drawList();
  } catch (error) {
    if (error.status === 401) return authLost(error);
    if (error.status === 404) removeInstance(id);
  }
}

function upsert(instance) {
  state.instances.set(instance.id, instance);
  const card = state.cards.get(instance.id);
  if (card) card.update(instance);
  else {
    const created = new InstanceCard(instance, cardContext);
    created.setMemory(state.memory?.byId.get(instance.id) ?? null);
    state.cards.set(instance.id, created);
  }
  drawSummary();
}

function patch(id, fields) {
  const current = state.instances.get(id);
  if (current) upsert({ ...current, ...fields });
  refreshSoon(id);
}

function removeInstance(id) {
  state.instances.delete(id);
  state.cards.get(id)?.el.remove();
  state.cards.delete(id);
  drawList();
  drawSummary();
}

const cardContext = {
  api,
  isDemo: () => state.demo,
  databaseDown: () => state.database === 'down',
  memoryUnavailable: () => state.memoryError !== null,
  onInstance: (instance) => {
    upsert(instance);
    drawList();
  },
  onRemoved: removeInstance,
  onAuthLost: authLost,
};

function onEvent(name, payload) {
  const id = payload.instanceId;
  // Only that card's messages section: a message changes nothing else of the instance.
  if (MESSAGE_EVENTS.includes(name)) return id && state.cards.get(id)?.onMessageEvent(name, payload);
  if (id) state.eventSeq.set(id, (state.eventSeq.get(id) ?? 0) + 1);
  switch (name) {
    case 'connection.update':
      return patch(id, { connectionStatus: payload.status, statusReason: payload.reason, statusChangedAt: payload.at });
    case 'status.instance':
      return patch(id, { connectionStatus: payload.status, health: payload.health });
    case 'instance.health':
      return patch(id, { health: payload.health, healthReason: payload.reason });
    case 'qrcode.updated':
      return state.cards.get(id)?.onQrUpdated();
    case 'remove.instance':
      return removeInstance(id);
    case 'memory.alert':
      if (id) state.cards.get(id)?.setAlert(payload);
      else state.fleetAlert = payload;
      drawFleetMemory();
      return void refreshMemory();
    default:
      return id && refreshSoon(id);
  }
}

// ---- drawing ------------------------------------------------------------------------------

const drawMeta = () => renderMeta(ui.meta, state);
const drawSummary = () => renderSummary(ui.summary, state.instances);
const drawFleetMemory = () => renderFleetMemory(ui.memory, state);

function drawDatabase() {
  const down = state.database === 'down';
  ui.dbBanner.hidden = !down;
  document.body.classList.toggle('database-down', down);
  ui.createSubmit.disabled = down;
  ui.createSubmit.title = down ? 'Creating an instance needs the database, which is unreachable now.' : '';
  if (!down) return;
  const pending = state.health?.journalPending;
  ui.dbPending.textContent =
    typeof pending === 'number' && Number.isFinite(pending)
      ? `${pending} change${pending === 1 ? '' : 's'} waiting to be written`
      : 'changes waiting to be written: not known yet';
}

function placeholder(kind, ...children) {
  return h('div', { class: `placeholder placeholder-${kind}` }, ...children);
}

function drawList() {
  if (state.list === 'loading' && state.cards.size === 0) return ui.list.replaceChildren(placeholder('loading', 'Loading instances…'));
  if (state.list === 'error' && state.cards.size === 0) {
    return ui.list.replaceChildren(
      placeholder('error', h('p', { text: `Could not load the instances: ${state.listError}` }), h('button', { type: 'button', onclick: () => void loadInstances() }, 'Try again')),
    );
  }
  if (state.cards.size === 0) {
    return ui.list.replaceChildren(
      placeholder('empty', h('p', { class: 'placeholder-title', text: 'No instances yet.' }), h('p', { text: 'Create one above: give it a name like sales-01, then show its QR and scan it with the phone.' })),
    );
  }
  // Re-append only when the set or order changed: moving a card would drop the focus inside it.
  const cards = [...state.cards.values()].sort((a, b) => a.id.localeCompare(b.id)).map((c) => c.el);
  const same = cards.length === ui.list.children.length && cards.every((el, n) => ui.list.children[n] === el);
  if (!same) ui.list.replaceChildren(...cards);
}

/** Once a second: every "time in status", uptime and countdown on the page. */
function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-since]')) el.textContent = formatDuration(now - Date.parse(el.dataset.since));
  for (const el of document.querySelectorAll('[data-until]')) {
    const left = Date.parse(el.dataset.until) - now;
    el.textContent = left > 0 ? `${el.dataset.before ?? ''}${formatDuration(left)}` : (el.dataset.after ?? '');
  }
}

// ---- forms --------------------------------------------------------------------------------

function createNote(tone, text) {
  ui.createNote.hidden = !text;
  ui.createNote.className = `form-note tone-${tone}-text`;
  ui.createNote.textContent = text ?? '';
}

ui.keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const key = ui.keyInput.value.trim();
  const problem = keyProblem(key);
  if (problem) {
    ui.keyError.hidden = false;
    ui.keyError.textContent = problem;
    return;
  }
  void connect(key);
});

ui.changeKey.addEventListener('click', () => {
  sessionStorage.removeItem(KEY_STORAGE);
  state.key = '';
  showKeyScreen(null);
});

ui.createForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const id = ui.createId.value.trim();
  if (!INSTANCE_ID.test(id)) return createNote('bad', 'A name is 1 to 64 letters, digits, "-" or "_".');
  ui.createSubmit.disabled = true;
  createNote('muted', `Creating ${id}…`);
  try {
    const { instance } = await api('POST', '/api/instances', { id, enabled: ui.createStart.checked });
    upsert(instance);
    drawList();
    ui.createId.value = '';
    createNote('ok', instance.enabled ? `Created ${id}: it is starting. Use “Show QR” to link a phone.` : `Created ${id}, disabled. Enable it to start it.`);
  } catch (error) {
    if (error.status === 401) return authLost(error);
    createNote('bad', error.code === 'INSTANCE_EXISTS' ? `An instance named ${id} already exists.` : error.message);
  } finally {
    ui.createSubmit.disabled = state.database === 'down';
  }
});

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState !== 'visible' || ui.dashboard.hidden) return;
  if (Date.now() - state.memoryAt >= SLOW_REFRESH_MS) void Promise.all([refreshHealth(), refreshMemory(), nodes.refresh()]);
});

if (state.key) void connect(state.key);
else showKeyScreen(null);
