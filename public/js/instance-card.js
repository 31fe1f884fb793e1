import { h, s } from './dom.js';
import { formatBytes, formatDuration, formatPairingCode, healthTone, phoneLabel, sparklinePoints, statusTone } from './format.js';
import { MessagesPanel } from './messages.js';

const SPARK_W = 160;
const SPARK_H = 28;
const PHONE_SEPARATORS = /[\s()+.-]/g;
/** The demo actions offered as buttons: enough to walk QR → CONNECTED → crash → recovery → logout. */
const SIMULATIONS = ['scan', 'crash', 'logout'];

const CONFIRM = {
  delete: (id) => ({ question: `Delete ${id}? Its worker stops and its saved session is wiped.`, yes: 'Yes, delete' }),
  logout: (id) => ({ question: `Log ${id} out? The phone is unlinked and a new QR scan is needed.`, yes: 'Yes, log out' }),
};

/** How the card names the row-only fields an answer may list in `stale` (database unreachable). */
const STALE_NAMES = { enabled: 'enabled', webhookUrl: 'webhook URL', lastConnectedAt: 'last linked', createdAt: 'created', updatedAt: 'updated' };
const STALE_TITLE = 'From the last read of the database, which is unreachable now: it may be out of date.';
const UNKNOWN_ENABLED_TITLE = 'Not known: the database is unreachable and has not been read for this instance since the supervisor started.';
const NEEDS_DATABASE = 'Needs the database, which is unreachable now.';

const DONE = {
  enable: 'Enabled: the worker is starting.',
  disable: 'Disabled: the worker is stopped and stays stopped.',
  restart: 'Restarted.',
  logout: 'Logged out: scan a new QR to link a phone again.',
};

function fact(label, ...value) {
  return h('div', { class: 'fact' }, h('dt', { text: label }), h('dd', {}, ...value));
}

function staleTag() {
  return h('span', { class: 'stale-tag', title: STALE_TITLE, text: 'stale' });
}

/** A value from the row: greyed and tagged "stale" when the answer says it may be out of date. */
function rowValue(isStale, ...value) {
  return isStale ? [h('span', { class: 'stale-value', title: STALE_TITLE }, ...value), ' ', staleTag()] : value;
}

/** `enabled` as the card can know it: true, false, or null (unknown: the database was never read). */
const enabledOf = (i) => (i.enabled === true || i.enabled === false ? i.enabled : null);

function since(iso, now) {
  if (!iso) return h('span', { text: '—' });
  return h('span', { class: 'since', dataset: { since: iso } }, formatDuration(now - Date.parse(iso)));
}

/** "3m 04s ago", "never", or "unknown" when the row was never read (database unreachable since start). */
function lastLinked(i, enabled, stale, now) {
  if (i.lastConnectedAt) return [since(i.lastConnectedAt, now), ' ago'];
  return [h('span', { class: 'muted', text: stale.has('lastConnectedAt') && enabled === null ? 'unknown' : 'never' })];
}

/** Text that counts down to `iso` (the page's ticker keeps it current), then says `after`. */
function countdown(iso, before, after, now) {
  const left = Date.parse(iso) - now;
  return h('span', { dataset: { until: iso, before, after } }, left > 0 ? `${before}${formatDuration(left)}` : after);
}

function sparkline(samples) {
  const points = sparklinePoints(samples, SPARK_W, SPARK_H);
  if (!points) return h('span', { class: 'muted', text: 'trend: collecting samples' });
  return s(
    'svg',
    { class: 'spark', viewBox: `0 0 ${SPARK_W} ${SPARK_H}`, width: SPARK_W, height: SPARK_H, role: 'img', 'aria-label': `memory trend, ${samples.length} samples` },
    s('polyline', { points }),
  );
}

function memoryView(memory, unavailable, instance) {
  if (unavailable) return [h('span', { class: 'muted', text: 'unavailable' })];
  // A start waiting at the gate, or a launch not measurable yet, is not "not running" / 0 MiB.
  if (instance?.admission?.waiting) return [h('span', { class: 'muted', text: 'waiting to start' })];
  if (!memory) return [h('span', { class: 'muted', text: instance?.worker ? 'measuring…' : 'no sample yet' })];
  if (memory.state === 'launching') return [h('span', { class: 'muted', text: 'starting (measured once its page has loaded)' })];
  if (!memory.running) return [h('span', { class: 'muted', text: 'not running' })];
  const trend =
    memory.trendMbPerHour === null ? null : `${memory.trendMbPerHour >= 0 ? '+' : ''}${memory.trendMbPerHour.toFixed(1)} MB/h`;
  const cap = memory.capUsedPercent === null ? '' : ` · ${Math.round(memory.capUsedPercent)}% of cap`;
  return [
    h('span', { class: 'mem-figures' }, `worker ${formatBytes(memory.workerBytes)} · browser ${formatBytes(memory.browserBytes)}${cap}`),
    h(
      'span',
      { class: 'mem-trend', title: memory.leakReason ?? '' },
      sparkline(memory.samples),
      trend && h('span', { class: memory.leakSuspected ? 'tone-bad-text' : 'muted', text: memory.leakSuspected ? `${trend}, leak suspected` : trend }),
    ),
  ];
}

/**
 * One instance on the dashboard. The summary and buttons are redrawn on every change; the QR and
 * pairing panels are kept, so a phone number being typed or a QR on screen survives live updates.
 */
export class InstanceCard {
  /**
   * @param {object} instance the API's instance view
   * @param {object} ctx { api, isDemo(), memoryUnavailable(), onInstance(instance), onRemoved(id), onAuthLost(error) }
   */
  constructor(instance, ctx) {
    this.instance = instance;
    this.ctx = ctx;
    this.memory = null;
    this.alert = null;
    this.busy = null;
    this.confirming = null;
    this.note = null;
    this.qr = { open: false, loading: false, again: false, dataUrl: null, at: null, linked: false, error: null };
    this.pairing = { open: false, busy: false, result: null, error: null };

    this.el = h('article', { class: 'card', dataset: { instance: instance.id } });
    this.summary = h('div', { class: 'card-summary' });
    this.actions = h('div', { class: 'actions' });
    this.noteEl = h('p', { class: 'note', role: 'status' });
    this.qrPanel = h('div', { class: 'panel qr-panel' });
    this.pairPanel = this.buildPairingPanel();
    this.messages = new MessagesPanel(instance.id, ctx);
    this.el.append(this.summary, this.actions, this.noteEl, this.qrPanel, this.pairPanel, this.messages.el);
    this.render();
  }

  get id() {
    return this.instance.id;
  }

  update(instance) {
    const wasConnected = this.instance.connectionStatus === 'CONNECTED';
    this.instance = instance;
    const connected = instance.connectionStatus === 'CONNECTED';
    if (connected && !wasConnected) {
      this.qr = { ...this.qr, linked: true, dataUrl: null, error: null };
      this.pairing = { ...this.pairing, open: false };
    }
    if (!connected && this.qr.linked) this.qr = { ...this.qr, linked: false, open: false };
    if (enabledOf(instance) === false) this.qr = { ...this.qr, open: false };
    this.render();
  }

  setMemory(memory) {
    this.memory = memory;
    this.render();
  }

  setAlert(alert) {
    this.alert = alert;
    this.render();
  }

  /** A message.* event of this instance: its messages section follows. */
  onMessageEvent(name, payload) {
    this.messages.onEvent(name, payload);
  }

  /** A new QR was shown on the instance's page: fetch its image if the panel is open. */
  onQrUpdated() {
    if (this.qr.open && !this.qr.linked) void this.loadQr();
  }

  render() {
    const i = this.instance;
    const now = Date.now();
    const enabled = enabledOf(i);
    const stale = new Set(Array.isArray(i.stale) ? i.stale : []);
    Object.assign(this.el.dataset, { status: i.connectionStatus, enabled: enabled === null ? 'unknown' : String(enabled), health: i.health });
    if (i.node) this.el.dataset.node = i.node;
    else delete this.el.dataset.node;
    if (stale.size > 0) this.el.dataset.stale = [...stale].join(' ');
    else delete this.el.dataset.stale;
    const phone = phoneLabel(i.phone);
    const attempts = [h('span', { text: String(i.reconnectAttempts ?? 0) })];
    if (i.nextReconnectAt) attempts.push(h('span', { class: 'muted' }, ' · next ', countdown(i.nextReconnectAt, 'in ', 'now', now)));
    const parts = [
      h(
        'header',
        { class: 'card-head' },
        h('h2', { class: 'card-id', text: i.id }),
        h('span', { class: `badge status tone-${statusTone(i.connectionStatus)}`, text: i.connectionStatus ?? 'UNKNOWN' }),
        enabled === false && h('span', { class: `badge tone-off${stale.has('enabled') ? ' is-stale' : ''}`, title: stale.has('enabled') ? STALE_TITLE : null, text: 'disabled' }),
        enabled === null && h('span', { class: 'badge tone-off is-stale enabled-unknown', title: UNKNOWN_ENABLED_TITLE, text: 'enabled: unknown' }),
      ),
      h(
        'dl',
        { class: 'facts' },
        fact('Health', h('span', { class: `badge health tone-${healthTone(i.health)}`, text: i.health }), i.healthReason && h('span', { class: 'reason', text: ` ${i.healthReason}` })),
        fact('In status', since(i.statusChangedAt, now), i.statusReason && h('span', { class: 'reason', text: ` · ${i.statusReason}` })),
        fact('Reconnects', ...attempts),
        fact('Phone', h('span', { class: phone ? '' : 'muted', text: phone ?? 'not linked' })),
        // The node that runs it (CLUSTER=on: the lease holder); null while it moves between nodes.
        i.node && fact('Node', h('span', { class: 'node-name', text: i.node })),
        (stale.size > 0 || enabled === null) &&
          fact('Enabled', ...rowValue(stale.has('enabled'), h('span', { class: 'enabled-value', text: enabled === null ? 'unknown' : enabled ? 'yes' : 'no' }))),
        fact('Last linked', ...rowValue(stale.has('lastConnectedAt'), ...lastLinked(i, enabled, stale, now))),
        i.webhookUrl && fact('Webhook', ...rowValue(stale.has('webhookUrl'), h('span', { class: 'webhook-url', text: i.webhookUrl }))),
        fact('Memory', ...memoryView(this.memory, this.ctx.memoryUnavailable(), i)),
      ),
      stale.size > 0 &&
        h(
          'p',
          { class: 'stale-note' },
          staleTag(),
          ` ${[...stale].map((name) => STALE_NAMES[name] ?? name).join(', ')}: from the last read (database unreachable). Status and health are live.`,
        ),
      this.alert && h('p', { class: 'alert tone-warn', text: `Memory ${this.alert.level}: ${this.alert.message}` }),
      i.waitingForHuman && h('p', { class: 'alert tone-bad', text: `Waiting for a human: ${i.waitingForHuman}` }),
      i.admission?.waiting &&
        h(
          'p',
          { class: 'alert tone-warn admission', dataset: { wait: i.admission.wait ?? '' } },
          `Waiting to start (#${i.admission.position ?? '?'} in the start queue): ${i.admission.reason} · `,
          since(i.admission.since, now),
        ),
      i.lastError && h('p', { class: 'last-error', text: `Last error: ${i.lastError}` }),
    ];
    this.summary.replaceChildren(...parts.filter(Boolean));
    this.renderActions();
    this.noteEl.hidden = !this.note;
    this.noteEl.className = `note ${this.note ? `tone-${this.note.tone}-text` : ''}`;
    this.noteEl.textContent = this.note?.text ?? '';
    this.renderQr();
    this.renderPairing();
  }

  /** `needsDatabase`: refused by the API while the database is unreachable, so not offered then. */
  button(text, onclick, { kind = '', action = text, label = null, needsDatabase = false } = {}) {
    const busy = this.busy === action;
    const blocked = needsDatabase && this.ctx.databaseDown?.() === true;
    return h(
      'button',
      { type: 'button', class: kind, disabled: this.busy !== null || blocked, title: blocked ? NEEDS_DATABASE : null, 'aria-busy': busy ? 'true' : null, 'aria-label': label, onclick },
      busy ? `${text}…` : text,
    );
  }

  renderActions() {
    const i = this.instance;
    if (this.confirming) {
      const { question, yes } = CONFIRM[this.confirming](i.id);
      const action = this.confirming;
      this.actions.replaceChildren(
        h('span', { class: 'confirm', text: question }),
        this.button(yes, () => void this.act(action), { kind: 'danger', action, needsDatabase: action === 'delete' }),
        this.button('Cancel', () => this.ask(null)),
      );
      return;
    }
    const connected = i.connectionStatus === 'CONNECTED';
    // Unknown (database never read): a running worker says the instance is meant to run.
    const on = enabledOf(i) ?? Boolean(i.worker);
    const row = [
      on
        ? this.button('Disable', () => void this.act('disable'), { action: 'disable', needsDatabase: true })
        : this.button('Enable', () => void this.act('enable'), { action: 'enable', needsDatabase: true }),
      on && this.button('Restart', () => void this.act('restart'), { action: 'restart' }),
      on && !connected && this.button(this.qr.open ? 'Hide QR' : 'Show QR', () => this.toggleQr(), { kind: 'primary' }),
      on && !connected && this.button(this.pairing.open ? 'Hide pairing' : 'Pairing code', () => this.togglePairing()),
      (connected || i.phone?.wid) && this.button('Log out', () => this.ask('logout'), { kind: 'danger' }),
      this.button('Delete', () => this.ask('delete'), { kind: 'danger', needsDatabase: true }),
    ];
    const demo = this.ctx.isDemo()
      ? h(
          'div',
          { class: 'demo-actions' },
          h('span', { class: 'demo-label', text: 'Simulate' }),
          ...SIMULATIONS.map((action) => this.button(action, () => void this.simulate(action), { kind: 'demo', action: `sim-${action}`, label: `Simulate ${action}` })),
        )
      : null;
    this.actions.replaceChildren(h('div', { class: 'action-row' }, ...row), demo ?? '');
  }

  ask(action) {
    this.confirming = action;
    this.render();
  }

  say(tone, text) {
    this.note = text ? { tone, text } : null;
  }

  fail(error) {
    if (error.status === 401) return this.ctx.onAuthLost(error);
    this.say('bad', error.message);
    this.render();
  }

  async act(action) {
    this.busy = action;
    this.confirming = null;
    this.say(null, null);
    this.render();
    const path = `/api/instance/${encodeURIComponent(this.id)}`;
    try {
      if (action === 'delete') {
        await this.ctx.api('DELETE', path);
        this.ctx.onRemoved(this.id);
        return;
      }
      const { instance } = await this.ctx.api('POST', `${path}/${action}`);
      this.busy = null;
      this.say('ok', DONE[action]);
      this.ctx.onInstance(instance);
    } catch (error) {
      this.busy = null;
      this.fail(error);
    }
  }

  async simulate(action) {
    this.busy = `sim-${action}`;
    this.say(null, null);
    this.render();
    try {
      await this.ctx.api('POST', `/api/demo/${encodeURIComponent(this.id)}/${action}`);
      this.busy = null;
      this.say('ok', `Simulated ${action} on the fake WhatsApp Web; the status follows live.`);
      this.render();
    } catch (error) {
      this.busy = null;
      this.fail(error);
    }
  }

  toggleQr() {
    this.qr = { ...this.qr, open: !this.qr.open, linked: false, error: null };
    this.render();
    if (this.qr.open) void this.loadQr();
  }

  /** One request at a time; a QR change seen meanwhile asks for one more fetch afterwards. */
  async loadQr() {
    if (this.qr.loading) {
      this.qr.again = true;
      return;
    }
    this.qr = { ...this.qr, loading: true, again: false, error: null };
    this.renderQr();
    try {
      const { dataUrl, at } = await this.ctx.api('GET', `/api/instance/${encodeURIComponent(this.id)}/qr`);
      this.qr = { ...this.qr, dataUrl, at, linked: false };
    } catch (error) {
      if (error.status === 401) return this.ctx.onAuthLost(error);
      if (error.code === 'ALREADY_CONNECTED') this.qr = { ...this.qr, linked: true, dataUrl: null };
      else this.qr = { ...this.qr, error: error.message };
    }
    this.qr.loading = false;
    this.renderQr();
    if (this.qr.again && this.qr.open) void this.loadQr();
  }

  renderQr() {
    const qr = this.qr;
    this.qrPanel.hidden = !qr.open;
    if (!qr.open) return this.qrPanel.replaceChildren();
    let body;
    if (qr.linked) body = h('p', { class: 'tone-ok-text', text: 'Linked: the phone is connected.' });
    else if (qr.error) body = h('div', {}, h('p', { class: 'tone-bad-text', text: qr.error }), h('button', { type: 'button', onclick: () => void this.loadQr() }, 'Try again'));
    else if (!qr.dataUrl) body = h('p', { class: 'muted', text: 'Waiting for the QR code… (a starting browser takes a few seconds)' });
    else
      body = h(
        'figure',
        { class: 'qr' },
        h('img', { class: 'qr-image', src: qr.dataUrl, alt: `QR code to link ${this.id}`, width: 240, height: 240 }),
        h('figcaption', {}, 'WhatsApp on the phone → Linked devices → Link a device. ', h('span', { class: 'muted', text: `Shown at ${new Date(qr.at).toLocaleTimeString()}${qr.loading ? ', refreshing…' : ''}` })),
      );
    this.qrPanel.replaceChildren(body);
  }

  togglePairing() {
    this.pairing = { ...this.pairing, open: !this.pairing.open, error: null };
    this.render();
    if (this.pairing.open) this.phoneInput.focus();
  }

  buildPairingPanel() {
    const inputId = `phone-${this.instance.id}`;
    this.phoneInput = h('input', { id: inputId, type: 'tel', inputmode: 'numeric', autocomplete: 'off', placeholder: '15551234567', maxlength: 20 });
    this.pairSubmit = h('button', { type: 'submit', class: 'primary' }, 'Get code');
    this.pairResult = h('div', { class: 'pair-result', role: 'status' });
    const form = h(
      'form',
      { class: 'pair-form', onsubmit: (e) => (e.preventDefault(), void this.requestPairingCode()) },
      h('label', { for: inputId, text: 'Phone number with country code, digits only' }),
      h('div', { class: 'inline' }, this.phoneInput, this.pairSubmit),
    );
    return h('div', { class: 'panel pair-panel' }, form, this.pairResult);
  }

  async requestPairingCode() {
    const phone = this.phoneInput.value.replace(PHONE_SEPARATORS, '');
    if (!/^\d{6,15}$/.test(phone)) {
      this.pairing = { ...this.pairing, error: 'Enter 6 to 15 digits: country code and number, e.g. 15551234567.', result: null };
      return this.renderPairing();
    }
    this.pairing = { ...this.pairing, busy: true, error: null, result: null };
    this.renderPairing();
    try {
      const result = await this.ctx.api('POST', `/api/instance/${encodeURIComponent(this.id)}/pairing-code`, { phone });
      this.pairing = { ...this.pairing, busy: false, result };
    } catch (error) {
      if (error.status === 401) return this.ctx.onAuthLost(error);
      this.pairing = { ...this.pairing, busy: false, error: error.message };
    }
    this.renderPairing();
  }

  renderPairing() {
    const p = this.pairing;
    this.pairPanel.hidden = !p.open;
    const blocked = this.ctx.databaseDown?.() === true;
    this.pairSubmit.disabled = p.busy || blocked;
    this.pairSubmit.title = blocked ? NEEDS_DATABASE : '';
    this.pairSubmit.textContent = p.busy ? 'Asking the phone page…' : 'Get code';
    if (p.error) return this.pairResult.replaceChildren(h('p', { class: 'tone-bad-text', text: p.error }));
    if (!p.result) return this.pairResult.replaceChildren();
    const { code, expiresAt, attempts, maxAttempts } = p.result;
    this.pairResult.replaceChildren(
      h('p', { class: 'pair-code', text: formatPairingCode(code) }),
      h('p', { class: 'muted' }, 'On the phone: Linked devices → Link a device → Link with phone number.'),
      h('p', { class: 'muted' }, countdown(expiresAt, 'Expires in ', 'Expired: ask for a new code.', Date.now()), ` Attempt ${attempts} of ${maxAttempts}.`),
    );
  }
}
