import { ApiError } from './api.js';
import { h } from './dom.js';

/*
 * One instance's messages on its card: the queue's counts, the last few messages both ways, a
 * send form and, in demo mode, a form that makes the fake WhatsApp Web receive a message.
 * Outbound messages come from `GET /api/instance/:id/messages` (read again, debounced, when a
 * message.status / message.ack of this instance arrives); received ones only from the live
 * stream (`message.received`), kept in memory. Every body is untrusted: text nodes only.
 */

/** The stream's message events, routed to the card of their instance. */
export const MESSAGE_EVENTS = ['message.received', 'message.status', 'message.ack'];

const SHOWN = 5;
const RECEIVED_KEPT = 10;
const REFRESH_DEBOUNCE_MS = 400;
const READ_TIMEOUT_MS = 15_000;
const SEND_TIMEOUT_MS = 30_000;
/** Where app.js keeps the operator's key for the tab (api.js has no way to add a header). */
const TITLE_MAX = 500;

const TONE = { queued: 'busy', sending: 'busy', sent: 'ok', delivered: 'ok', read: 'ok', failed: 'bad', expired: 'bad', unknown: 'warn', received: 'off' };
const FAILED = new Set(['failed', 'expired', 'unknown']);
const REASON_OF_UNKNOWN = 'the send timed out: it may have reached WhatsApp, so it is not retried';

/** An Idempotency-Key: randomUUID needs a secure context, a dashboard opened over plain http on the LAN is not one. */
function newKey() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** "+15551234567" for a person, "group 1203…" for a group, the id itself otherwise. */
function chatLabel(chatId) {
  const id = String(chatId ?? '');
  const [user, server] = id.split('@');
  if (server === 'c.us') return `+${user}`;
  if (server === 'g.us') return `group ${user}`;
  return id || '?';
}

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const clip = (text) => (text.length > TITLE_MAX ? `${text.slice(0, TITLE_MAX)}…` : text);

/** An outbound message of the API as a list row. */
function outboundRow(m) {
  const media = m.media ? (m.media.filename ?? m.media.mimetype ?? 'media') : null;
  return {
    key: `out:${m.id}`,
    id: m.id,
    direction: 'out',
    chatId: m.chatId,
    at: Date.parse(m.createdAt),
    text: m.type === 'media' ? m.caption : m.text,
    media,
    status: m.status,
    reason: m.status === 'unknown' ? (m.reason ?? REASON_OF_UNKNOWN) : m.reason,
    waMessageId: m.waMessageId,
  };
}

/** A `message.received` event as a list row (fromMe: sent from the phone itself). */
function receivedRow(e) {
  const at = typeof e.timestamp === 'number' ? e.timestamp * 1000 : Date.parse(e.at);
  return {
    key: `in:${e.id}`,
    id: e.id,
    direction: e.fromMe ? 'phone' : 'in',
    chatId: e.chatId,
    from: e.from,
    at: Number.isFinite(at) ? at : Date.now(),
    text: typeof e.body === 'string' ? e.body : null,
    media: e.hasMedia ? (e.type && e.type !== 'chat' ? String(e.type) : 'media') : null,
    status: e.fromMe ? 'sent' : 'received',
    reason: null,
  };
}

function formatTime(ms) {
  if (!Number.isFinite(ms)) return '';
  const d = new Date(ms);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString();
}

const DIRECTION = {
  out: { arrow: '→', label: 'sent to' },
  in: { arrow: '←', label: 'received from' },
  phone: { arrow: '→', label: 'sent from the phone to' },
};

function messageItem(row) {
  const dir = DIRECTION[row.direction];
  const chat = chatLabel(row.chatId);
  const who = row.direction === 'in' && row.from && row.from !== row.chatId ? `${chat} · ${chatLabel(row.from)}` : chat;
  const body = [];
  if (row.media) body.push(h('span', { class: 'msg-media', text: `📎 ${row.media}` }), row.text ? ' ' : null);
  if (row.text) body.push(row.text);
  if (!row.media && !row.text) body.push(h('span', { class: 'muted', text: '(no text)' }));
  const showReason = FAILED.has(row.status) && row.reason;
  return h(
    'li',
    { class: 'msg', dataset: { direction: row.direction, status: row.status, messageId: row.id } },
    h(
      'div',
      { class: 'msg-head' },
      h('span', { class: 'msg-dir', 'aria-label': dir.label, title: dir.label, text: dir.arrow }),
      h('span', { class: 'msg-chat', title: String(row.chatId ?? ''), text: who }),
      h('span', { class: 'msg-time muted', text: formatTime(row.at) }),
      h('span', { class: `badge msg-status tone-${TONE[row.status] ?? 'off'}`, text: row.status }),
    ),
    h('div', { class: 'msg-body', title: clip([row.media, row.text].filter(Boolean).join(' ')) }, ...body),
    showReason && h('div', { class: 'msg-reason tone-bad-text', text: row.reason }),
  );
}

function field(id, label, attrs) {
  const input = h('input', { id, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', ...attrs });
  return { input, el: h('div', { class: 'msg-field' }, h('label', { for: id, text: label }), input) };
}

/** A small form: fields, a submit button, and a line for its outcome (an alert when it failed). */
function miniForm({ idPrefix, fields, button, kind, action, onsubmit }) {
  const built = fields.map((f) => field(`${idPrefix}-${f.name}`, f.label, f.attrs));
  const submit = h('button', { type: 'submit', class: kind, 'aria-label': button.label, dataset: { action } }, button.text);
  const outcome = h('p', { class: 'msg-outcome', hidden: true });
  const form = h('form', { class: 'msg-form', novalidate: true, onsubmit: (e) => (e.preventDefault(), onsubmit()) }, ...built.map((b) => b.el), h('div', { class: 'msg-submit' }, submit));
  return { form, submit, outcome, inputs: Object.fromEntries(fields.map((f, n) => [f.name, built[n].input])), buttonText: button.text };
}

export class MessagesPanel {
  /**
   * @param {string} instanceId
   * @param {object} ctx the card's context: { api, isDemo(), onAuthLost(error) }
   */
  constructor(instanceId, ctx) {
    this.id = instanceId;
    this.ctx = ctx;
    this.outbound = [];
    this.counts = null;
    this.received = [];
    this.error = null;
    this.loading = false;
    this.again = false;
    this.timer = null;
    this.sending = false;
    this.simulating = false;
    // The key of a send whose answer was lost (timeout, network): the same form sent again reuses it.
    this.unanswered = null;

    const safe = instanceId.replace(/[^A-Za-z0-9_-]/g, '_');
    this.countsEl = h('p', { class: 'msg-counts' });
    this.listEl = h('ol', { class: 'msg-list', 'aria-label': `Last messages of ${instanceId}` });
    this.send = miniForm({
      idPrefix: `msg-${safe}`,
      fields: [
        { name: 'to', label: 'To', attrs: { type: 'text', inputmode: 'tel', placeholder: '15551234567 or …@g.us', maxlength: 64 } },
        { name: 'text', label: 'Text to send', attrs: { type: 'text', placeholder: 'Hello!', maxlength: 4096 } },
      ],
      button: { text: 'Send', label: 'Send message' },
      kind: 'primary',
      action: 'send-message',
      onsubmit: () => void this.submitSend(),
    });
    this.sim = miniForm({
      idPrefix: `sim-${safe}`,
      fields: [
        { name: 'from', label: 'From', attrs: { type: 'text', inputmode: 'tel', placeholder: '15557654321', maxlength: 64 } },
        { name: 'text', label: 'Text received', attrs: { type: 'text', placeholder: 'hi', maxlength: 4096 } },
      ],
      button: { text: 'Receive', label: 'Simulate incoming message' },
      kind: 'demo',
      action: 'simulate-message',
      onsubmit: () => void this.submitSimulate(),
    });
    this.simDetails = h(
      'details',
      { class: 'msg-details msg-demo' },
      h('summary', { text: 'Simulate incoming message' }),
      this.sim.form,
      this.sim.outcome,
    );
    this.el = h(
      'section',
      { class: 'panel messages', 'aria-label': `Messages of ${instanceId}` },
      h('h3', { class: 'messages-title', text: 'Messages' }),
      this.countsEl,
      this.listEl,
      h('details', { class: 'msg-details' }, h('summary', { text: 'Send a message' }), this.send.form, this.send.outcome),
      this.simDetails,
    );
    this.render();
    // After the card is on the page (it is appended in the same task that made it).
    this.refreshSoon(0);
  }

  /** A message.* event of this instance. */
  onEvent(name, payload) {
    if (name === 'message.received') {
      if (typeof payload.id !== 'string' || this.received.some((r) => r.id === payload.id)) return;
      this.received = [receivedRow(payload), ...this.received].sort((a, b) => b.at - a.at).slice(0, RECEIVED_KEPT);
      return this.render();
    }
    if (name === 'message.ack' && payload.messageId === null) {
      // A receipt for a message sent from the phone itself: only the in-memory row knows it.
      const row = this.received.find((r) => r.id === payload.id);
      if (row && row.direction === 'phone' && payload.status !== 'pending') row.status = payload.status === 'error' ? 'failed' : payload.status;
      return this.render();
    }
    // Shown at once; the list and the counts follow from the read it schedules.
    const row = this.outbound.find((m) => m.id === payload.messageId);
    if (row && typeof payload.status === 'string' && payload.status !== 'pending') {
      row.status = payload.status === 'error' ? 'failed' : payload.status;
      if (payload.reason) row.reason = payload.reason;
      this.render();
    }
    this.refreshSoon();
  }

  refreshSoon(delay = REFRESH_DEBOUNCE_MS) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.refresh();
    }, delay);
  }

  /** One read at a time; asked for meanwhile, one more afterwards (so the last event is always covered). */
  async refresh() {
    // A card that left the page (removed, or the key changed) reads nothing more.
    if (!this.el.isConnected) return;
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    this.again = false;
    try {
      const body = await this.ctx.api('GET', `/api/instance/${encodeURIComponent(this.id)}/messages?limit=${SHOWN}`, undefined, { timeoutMs: READ_TIMEOUT_MS });
      this.outbound = (Array.isArray(body?.messages) ? body.messages : []).filter((m) => m && typeof m.id === 'string').map(outboundRow);
      this.counts = body?.counts && typeof body.counts === 'object' ? body.counts : null;
      this.error = null;
    } catch (error) {
      if (error.status === 401) return this.ctx.onAuthLost(error);
      this.error = error.status === 404 && error.code !== 'INSTANCE_NOT_FOUND' ? 'not served by this supervisor' : error.message;
    } finally {
      this.loading = false;
    }
    this.render();
    if (this.again) void this.refresh();
  }

  render() {
    this.renderCounts();
    const shownOut = new Set(this.outbound.map((m) => m.waMessageId).filter(Boolean));
    // A message sent through wa-fleet may also come back as the phone's own (fromMe): listed once.
    const rows = [...this.outbound, ...this.received.filter((r) => !shownOut.has(r.id))].sort((a, b) => b.at - a.at).slice(0, SHOWN);
    if (rows.length === 0) {
      const text = this.error ? `Messages unavailable: ${this.error}` : this.counts ? 'No messages yet.' : 'Loading messages…';
      this.listEl.replaceChildren(h('li', { class: `msg-empty ${this.error ? 'tone-bad-text' : 'muted'}`, text }));
    } else this.listEl.replaceChildren(...rows.map(messageItem));
    this.simDetails.hidden = !this.ctx.isDemo();
    this.renderForm(this.send, this.sending, 'Sending…');
    this.renderForm(this.sim, this.simulating, 'Receiving…');
  }

  renderCounts() {
    const c = this.counts;
    if (!c) {
      this.countsEl.replaceChildren(this.error && this.outbound.length > 0 ? h('span', { class: 'tone-bad-text', text: `Not refreshed: ${this.error}` }) : '');
      return;
    }
    const queued = num(c.queued) + num(c.sending);
    const sent = num(c.sent) + num(c.delivered) + num(c.read);
    const unknown = num(c.unknown);
    const failed = num(c.failed) + num(c.expired) + unknown;
    const count = (name, value, label, tone) =>
      h('span', { class: `msg-count${value > 0 && tone ? ` ${tone}` : ''}`, dataset: { count: name } }, h('strong', { text: String(value) }), ` ${label}`);
    const parts = [
      count('queued', queued, num(c.sending) > 0 ? `queued (${num(c.sending)} sending)` : 'queued'),
      count('sent', sent, 'sent'),
      count('failed', failed, 'failed', 'tone-bad-text'),
      unknown > 0 && h('span', { class: 'msg-count tone-warn-text', dataset: { count: 'unknown' }, title: REASON_OF_UNKNOWN, text: `${unknown} unknown: may have reached WhatsApp` }),
      this.error && h('span', { class: 'tone-bad-text', text: `not refreshed: ${this.error}` }),
    ];
    this.countsEl.replaceChildren(...parts.filter(Boolean).flatMap((part, n) => (n === 0 ? [part] : [' · ', part])));
  }

  renderForm(f, busy, busyText) {
    f.submit.disabled = busy;
    f.submit.setAttribute('aria-busy', String(busy));
    f.submit.textContent = busy ? busyText : f.buttonText;
  }

  outcome(f, tone, text) {
    f.outcome.hidden = !text;
    f.outcome.className = `msg-outcome ${tone === 'bad' ? 'form-error' : `tone-${tone}-text`}`;
    if (tone === 'bad') f.outcome.setAttribute('role', 'alert');
    else f.outcome.setAttribute('role', 'status');
    f.outcome.textContent = text ?? '';
  }

  async submitSend() {
    // Disabled before the first await: a second click of a double click finds it busy.
    if (this.sending) return;
    const to = this.send.inputs.to.value.trim();
    const text = this.send.inputs.text.value;
    this.sending = true;
    this.outcome(this.send, 'muted', null);
    this.render();
    const same = this.unanswered && this.unanswered.to === to && this.unanswered.text === text;
    const key = same ? this.unanswered.key : newKey();
    this.unanswered = null;
    try {
      const { message } = await this.post(`/api/instance/${encodeURIComponent(this.id)}/messages`, { to, text }, key);
      if (message && typeof message.id === 'string' && !this.outbound.some((m) => m.id === message.id)) this.outbound.unshift(outboundRow(message));
      this.send.inputs.text.value = '';
      this.outcome(this.send, 'ok', `Queued for ${chatLabel(message?.chatId ?? to)}: it is sent in turn; its status follows below.`);
      this.refreshSoon(0);
    } catch (error) {
      if (error.status === 401) return this.ctx.onAuthLost(error);
      if (error.status === 0) this.unanswered = { to, text, key };
      this.outcome(this.send, 'bad', error.message);
    } finally {
      this.sending = false;
      this.render();
    }
  }

  async submitSimulate() {
    if (this.simulating) return;
    this.simulating = true;
    this.outcome(this.sim, 'muted', null);
    this.render();
    try {
      const from = this.sim.inputs.from.value.trim();
      await this.ctx.api('POST', `/api/demo/${encodeURIComponent(this.id)}/message`, { from, body: this.sim.inputs.text.value });
      this.sim.inputs.text.value = '';
      this.outcome(this.sim, 'ok', 'The fake WhatsApp Web received it: it shows here when the worker reports it.');
    } catch (error) {
      if (error.status === 401) return this.ctx.onAuthLost(error);
      this.outcome(this.sim, 'bad', error.message);
    } finally {
      this.simulating = false;
      this.render();
    }
  }

  /** A POST with an Idempotency-Key: a lost answer may be retried by sending the same form again. */
  async post(path, body, idempotencyKey) {
    try {
      return (await this.ctx.api('POST', path, body, { timeoutMs: SEND_TIMEOUT_MS, headers: { 'idempotency-key': idempotencyKey } })) ?? {};
    } catch (error) {
      if (error.status !== 0) throw error;
      throw new ApiError(0, error.code, `${error.message} It may have been queued all the same: sending the same again cannot send it twice.`);
    }
  }
}
