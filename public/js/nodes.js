import { h } from './dom.js';
import { formatDuration } from './format.js';

/*
 * The nodes panel: `GET /api/nodes`, read with the memory report (every 5 s while the tab is
 * visible) and at once after a drain or resume. With CLUSTER=on, one row per node: state (down
 * and draining marked), load against capacity, heartbeat age (ticking), "this node", and Drain
 * (confirmed) or Resume on each live node. With CLUSTER=off, one compact line (this supervisor
 * and its load), not a hidden panel: the operator sees that the fleet is not clustered and how
 * full this node is. A change of any node's load or state reads the instance list again
 * (`onMoved`), so each card's node follows a hand-over that sent no event for it.
 * Node ids and URLs are data: text nodes only.
 */

const STATE_TONE = { up: 'ok', draining: 'warn', down: 'bad', stopped: 'off' };
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function loadText(n) {
  const load = num(n.load);
  const capacity = num(n.capacity);
  return `${load ?? '?'} / ${capacity ?? '?'}`;
}

function loadBar(n) {
  const load = num(n.load) ?? 0;
  const capacity = num(n.capacity);
  const pct = capacity ? Math.min(100, (load / capacity) * 100) : 0;
  const fill = h('span', { class: `bar-fill level-${pct >= 95 ? 'critical' : pct >= 80 ? 'warn' : 'ok'}` });
  fill.style.width = `${pct.toFixed(1)}%`;
  return h('span', { class: 'bar node-bar', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': capacity ?? 0, 'aria-valuenow': load, 'aria-label': `load of ${n.id}` }, fill);
}

function heartbeat(n) {
  const at = Date.parse(n.heartbeatAt);
  if (!Number.isFinite(at)) return null;
  return h('span', { class: 'node-heartbeat muted' }, 'heartbeat ', h('span', { dataset: { since: n.heartbeatAt } }, formatDuration(Date.now() - at)), ' ago');
}

export class NodesPanel {
  /** @param {HTMLElement} el @param {object} ctx { api, onAuthLost(error), onMoved(), timeoutMs } */
  constructor(el, ctx) {
    this.el = el;
    this.ctx = ctx;
    // Reads overlap (the timer, an action's own read): an answer older than the one drawn is dropped.
    this.seq = 0;
    this.drawn = 0;
    this.reset();
  }

  /** Forgets everything (key changed): the panel stays hidden until the next answer. */
  reset() {
    this.answer = null;
    this.error = null;
    this.signature = null;
    this.confirming = null;
    this.busy = null;
    this.note = null;
    this.drawn = ++this.seq;
    this.el.hidden = true;
    delete this.el.dataset.cluster;
    this.el.replaceChildren();
  }

  async refresh() {
    const seq = ++this.seq;
    try {
      const body = await this.ctx.api('GET', '/api/nodes', undefined, { timeoutMs: this.ctx.timeoutMs });
      if (seq < this.drawn) return;
      this.drawn = seq;
      if (!body || !Array.isArray(body.nodes)) throw new Error('the node list came without its nodes');
      this.answer = { cluster: body.cluster === 'on' ? 'on' : 'off', nodes: body.nodes.filter((n) => n && typeof n.id === 'string') };
      this.error = null;
    } catch (error) {
      if (seq < this.drawn) return;
      this.drawn = seq;
      if (error.status === 401) return this.ctx.onAuthLost(error);
      // No /api/nodes on this supervisor (older build), or a key that may not list them: no panel.
      this.error = error.status === 404 || error.status === 403 ? 'hidden' : `nodes unavailable: ${error.message}`;
    }
    this.noticeMoves();
    this.render();
  }

  /** Loads or states changed since the last answer: instances moved, the cards must say where. */
  noticeMoves() {
    if (!this.answer) return;
    const signature = this.answer.nodes.map((n) => `${n.id}:${n.state}:${n.load}`).join(' ');
    const changed = this.signature !== null && signature !== this.signature;
    this.signature = signature;
    if (changed) this.ctx.onMoved();
  }

  render() {
    this.el.hidden = this.error === 'hidden' || (!this.answer && !this.error);
    if (this.el.hidden) return this.el.replaceChildren();
    const title = h('span', { class: 'chips-title', text: this.answer?.cluster === 'on' ? 'Nodes' : 'Node' });
    if (!this.answer) return this.el.replaceChildren(h('div', { class: 'chips' }, title, h('span', { class: 'badge tone-bad', text: this.error })));
    const stale = this.error && h('span', { class: 'badge tone-bad', text: this.error });
    if (this.answer.cluster !== 'on') {
      const self = this.answer.nodes[0];
      this.el.dataset.cluster = 'off';
      return this.el.replaceChildren(
        h(
          'div',
          { class: 'chips nodes-off' },
          title,
          self && h('span', { class: 'node-name', text: self.id }),
          self && h('span', { class: 'node-load', text: `${loadText(self)} instances` }),
          h('span', { class: 'muted', text: 'CLUSTER=off: this supervisor runs every instance' }),
          stale,
        ),
      );
    }
    this.el.dataset.cluster = 'on';
    const up = this.answer.nodes.filter((n) => n.alive && n.state === 'up').length;
    const parts = [
      h('div', { class: 'chips' }, title, h('span', { class: 'muted', text: `${up} of ${this.answer.nodes.length} taking instances` }), stale),
      h('ul', { class: 'node-list' }, ...this.answer.nodes.map((n) => this.row(n, up))),
      this.note && h('p', { class: `note tone-${this.note.tone}-text`, role: 'status', text: this.note.text }),
    ];
    this.el.replaceChildren(...parts.filter(Boolean));
  }

  row(n, up) {
    const state = typeof n.state === 'string' ? n.state : 'unknown';
    return h(
      'li',
      { class: 'node', dataset: { node: n.id, state } },
      h('strong', { class: 'node-name', text: n.id }),
      n.self && h('span', { class: 'badge tone-busy node-self', text: 'this node' }),
      h('span', { class: `badge node-state tone-${STATE_TONE[state] ?? 'off'}`, text: state }),
      h('span', { class: 'node-load', title: 'instances it runs / NODE_MAX_INSTANCES', text: loadText(n) }),
      loadBar(n),
      heartbeat(n),
      n.version && h('span', { class: 'muted small', text: `v${n.version}` }),
      n.url && h('span', { class: 'node-url muted small', text: n.url }),
      h('span', { class: 'node-actions' }, ...this.actions(n, state, up)),
    );
  }

  actions(n, state, up) {
    if (!n.alive || (state !== 'up' && state !== 'draining')) return [];
    const button = (text, onclick, kind = '') =>
      h('button', { type: 'button', class: kind, disabled: this.busy !== null, 'aria-busy': this.busy === n.id ? 'true' : null, onclick }, text);
    if (this.confirming === n.id && state === 'up') {
      const alone = up <= 1 ? ' No other node takes instances: they stay stopped until it resumes.' : '';
      return [
        h('span', { class: 'confirm', text: `Drain ${n.id}? Each of its ${n.load ?? 0} instance(s) is stopped and handed over to another node.${alone}` }),
        button('Yes, drain', () => void this.act(n.id, 'drain'), 'danger'),
        button('Cancel', () => this.ask(null)),
      ];
    }
    if (state === 'up') return [button('Drain', () => this.ask(n.id))];
    return [button('Resume', () => void this.act(n.id, 'resume'), 'primary')];
  }

  ask(id) {
    this.confirming = id;
    this.render();
  }

  async act(id, action) {
    this.busy = id;
    this.confirming = null;
    this.note = null;
    this.render();
    try {
      const answer = await this.ctx.api('POST', `/api/nodes/${encodeURIComponent(id)}/${action}`);
      this.note =
        action === 'drain'
          ? { tone: 'ok', text: `Drain of ${id} started: ${answer?.instances ?? 0} instance(s) to hand over; its load falls as they go.` }
          : { tone: 'ok', text: `Resumed ${id}: it takes instances again.` };
    } catch (error) {
      if (error.status === 401) return this.ctx.onAuthLost(error);
      this.note = { tone: 'bad', text: `${action === 'drain' ? 'Drain' : 'Resume'} ${id}: ${error.message}` };
    }
    this.busy = null;
    await this.refresh();
  }
}
