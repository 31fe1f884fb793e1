/**
 * Messages, the must-show 6 of issue 15: how long a message takes from its 202 to `sent`, how
 * many sends per second one and several instances make, and how long an inbound message takes to
 * reach the webhook receiver. A real supervisor (`src/main.ts` run from source with tsx, or the
 * build with --built) as its own process, demo mode (real workers, real whatsapp-web.js on the
 * fake WhatsApp Web), pacing off (SEND_MIN_INTERVAL_MS=0 SEND_JITTER_MS=0 SEND_MAX_PER_MINUTE=0),
 * a throwaway database on MYSQL_URL, and a webhook receiver in this process on loopback.
 *
 * Run: npm run bench:messages -- [--instances-list 1,5] [--messages 200] [--inbound 200] [--runs 1]
 *        [--warmup 5] [--target-ms 250] [--built]
 *
 * Links max(instances-list) instances through the demo scan, then per run:
 *  1. accepted → sent: --messages texts to the first instance one at a time (the next once the
 *     previous is sent), each timed from its 202 answer to the arrival of its `message.status`
 *     sent webhook here (so webhook delivery is included), and server-side by the row's
 *     `sentAt - createdAt`; with a breakdown through the page's own record of the send.
 *  2. throughput, for each N of --instances-list: --messages texts per instance to the first N
 *     instances, all POSTed at once; messages/s from the first POST to the last `sent` webhook,
 *     and server-side from the first `createdAt` to the last `sentAt`.
 *  3. inbound: --inbound messages through `POST /api/demo/:id/message` one at a time, each timed
 *     from right before the call to the arrival of its `message.received` webhook; also the
 *     route's own answer time.
 * Then correctness: every accepted message on the page record (`GET /api/demo/:id/sent`) exactly
 * once with its text, its row `sent`, one `sent` webhook each and no failure; every inbound message
 * announced once. Each phase starts with --warmup messages that are not measured (counted in the
 * checks).
 *
 * The markdown goes to stdout, progress to stderr. The 250 ms inbound p99 verdict is printed PASS or
 * FAIL and does not change the exit code; a bench that broke, or a product that lost, doubled or
 * failed a message, exits non-zero (1: correctness, 2: the bench itself).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { sleep } from '../../lib/timeout.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { createTestDatabase, type TestDatabase } from '../../tests/support/db.js';
import { freePort } from '../../tests/support/net.js';
import { findProcessesWithArg } from '../../tests/support/processes.js';
import { startReceiver, type Receiver } from '../../tests/support/webhook-receiver.js';
import { SupervisorProcess } from '../support/supervisor-process.js';
import { chromiumProcessCount, describeError, LoadWatch, machineFacts, progress } from './support/machine.js';
import { checkAnnounced, checkPageRecord, inboundVerdict, perSecond, spread, type AcceptedSend, type Arrival, type PageRecord, type Spread } from './support/message-stats.js';
import { DASH, renderTable } from './support/table.js';

const API_KEY = 'messages-bench-key-0123456789abcdef';
const CHROME_PATH = process.env.CHROME_PATH ?? '/usr/bin/chromium';
const LINK_TIMEOUT_MS = 120_000;
const ONE_MESSAGE_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 60_000;
/** Recipients the texts cycle through: a few chats, as a real sender has. */
const CHATS = 10;

export interface Options {
  instancesList: number[];
  messages: number;
  inbound: number;
  runs: number;
  warmup: number;
  targetMs: number;
  built: boolean;
}

/** One webhook as it arrived here: performance.now() and the wall clock at arrival. */
interface Timed extends Arrival {
  at: number;
  wall: number;
}

/** What one run measured. */
interface RunResult {
  /** 202 answer → `sent` webhook arrival (ms). */
  sentByWebhook: number[];
  /** Row sentAt − createdAt (ms). */
  sentByRow: number[];
  /** Send request → 202 answer. */
  acceptAnswer: number[];
  /** Row createdAt → the page's record of the send. */
  toPage: number[];
  /** The page's record → row sentAt. */
  pageToRow: number[];
  /** Row sentAt → webhook arrival here. */
  rowToWebhook: number[];
  throughput: ThroughputRow[];
  /** Before the call → `message.received` arrival. */
  inbound: number[];
  /** The demo route's answer. */
  inboundAnswer: number[];
  /** Before the call → the supervisor's `at` of the event. */
  inboundToSupervisor: number[];
  /** The supervisor's `at` → webhook arrival here. */
  inboundSupervisorToWebhook: number[];
}

interface ThroughputRow {
  run: number;
  instances: number;
  messages: number;
  acceptMs: number;
  /** First POST → last `sent` webhook here. */
  clientMs: number;
  /** First createdAt → last sentAt of the rows. */
  serverMs: number;
  /** Sent after the last 202 answer, and the span from that answer to the last sentAt: the sender alone, no accepts beside it. */
  afterAccepts: { sent: number; ms: number };
}

interface Row {
  id: string;
  status: string;
  createdAt: string;
  sentAt: string | null;
  waMessageId: string;
}

function wholeNumber(name: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number >= ${min}, got ${text}`);
  return value;
}

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      'instances-list': { type: 'string', default: '1,5' },
      messages: { type: 'string', default: '200' },
      inbound: { type: 'string', default: '200' },
      runs: { type: 'string', default: '1' },
      warmup: { type: 'string', default: '5' },
      'target-ms': { type: 'string', default: '250' },
      built: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const instancesList = values['instances-list'].split(',').map((n) => wholeNumber('instances-list', n.trim(), 1));
  return {
    instancesList,
    messages: wholeNumber('messages', values.messages, 1),
    inbound: wholeNumber('inbound', values.inbound, 1),
    runs: wholeNumber('runs', values.runs, 1),
    warmup: wholeNumber('warmup', values.warmup, 0),
    targetMs: wholeNumber('target-ms', values['target-ms'], 1),
    built: values.built,
  };
}

class BenchBroken extends Error {}

/** The webhooks this bench waits for, keyed, with waiters for the first arrival of a key. */
class Arrivals {
  readonly sent = new Map<string, Timed[]>();
  readonly received = new Map<string, Timed[]>();
  /** message.status other than sent: each one a failure of the product. */
  readonly otherStatus: Timed[] = [];
  /** connection.update webhooks: an instance leaving CONNECTED during the measurement is worth saying. */
  readonly connection: Timed[] = [];
  private readonly waiters = new Map<string, () => void>();

  take(body: string, eventId: string): void {
    const at = performance.now();
    const wall = Date.now();
    let parsed: { event?: string; data?: Record<string, unknown> };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      return;
    }
    const timed: Timed = { eventId, event: String(parsed.event), data: parsed.data ?? {}, at, wall };
    if (timed.event === 'message.status') {
      if (timed.data.status === 'sent') this.add(this.sent, `sent:${String(timed.data.messageId)}`, String(timed.data.messageId), timed);
      else this.otherStatus.push(timed);
    } else if (timed.event === 'message.received') {
      this.add(this.received, `received:${String(timed.data.id)}`, String(timed.data.id), timed);
    } else if (timed.event === 'connection.update') {
      this.connection.push(timed);
    }
  }

  private add(map: Map<string, Timed[]>, waitKey: string, key: string, timed: Timed): void {
    map.set(key, [...(map.get(key) ?? []), timed]);
    this.waiters.get(waitKey)?.();
  }

  /** The first arrival of `key` in `map`, already here or still to come. */
  first(kind: 'sent' | 'received', key: string, timeoutMs: number): Promise<Timed> {
    const map = kind === 'sent' ? this.sent : this.received;
    const seen = map.get(key)?.[0];
    if (seen) return Promise.resolve(seen);
    const waitKey = `${kind}:${key}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waitKey);
        reject(new BenchBroken(`no ${kind === 'sent' ? 'message.status sent' : 'message.received'} webhook for ${key} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(waitKey, () => {
        clearTimeout(timer);
        this.waiters.delete(waitKey);
        resolve(map.get(key)![0]!);
      });
    });
  }
}

interface Answer {
  status: number;
  body: any;
  /** performance.now() right before the request and once its answer was read. */
  started: number;
  answered: number;
}

class Api {
  constructor(readonly base: string) {}

  async call(method: string, path: string, body?: unknown): Promise<Answer> {
    const started = performance.now();
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { 'x-api-key': API_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    const answered = performance.now();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed, started, answered };
  }

  async ok(method: string, path: string, body?: unknown, expected = [200]): Promise<Answer> {
    const answer = await this.call(method, path, body);
    if (!expected.includes(answer.status)) throw new BenchBroken(`${method} ${path}: HTTP ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
    return answer;
  }
}

const chatOf = (i: number) => `1555000${String(i % CHATS).padStart(4, '0')}`;

/** Everything sent and fired, for the checks at the end. */
interface Ledger {
  accepted: Map<string, AcceptedSend[]>;
  inbound: Array<{ instanceId: string; waMessageId: string; body: string }>;
}

async function send(api: Api, ledger: Ledger, instanceId: string, text: string, chat: string): Promise<{ answer: Answer; messageId: string }> {
  const answer = await api.ok('POST', `/api/instance/${instanceId}/messages`, { to: chat, text }, [202]);
  const m = answer.body.message as { id: string; waMessageId: string };
  ledger.accepted.get(instanceId)!.push({ messageId: m.id, waMessageId: m.waMessageId, body: text });
  return { answer, messageId: m.id };
}

/** Every row of the instance, through the list route (newest first, pages of 200). */
async function rowsOf(api: Api, instanceId: string): Promise<Map<string, Row>> {
  const rows = new Map<string, Row>();
  let before: number | null = null;
  for (;;) {
    const page = await api.ok('GET', `/api/instance/${instanceId}/messages?limit=200${before ? `&before=${before}` : ''}`);
    for (const r of page.body.messages as Row[]) rows.set(r.id, r);
    before = page.body.next as number | null;
    if (before === null) return rows;
  }
}

async function pageRecord(api: Api, instanceId: string): Promise<PageRecord[]> {
  return (await api.ok('GET', `/api/demo/${instanceId}/sent`)).body.sent as PageRecord[];
}

const ms = (iso: string | null): number => (iso === null ? Number.NaN : Date.parse(iso));

async function instancesStatus(api: Api): Promise<Map<string, { status: string; pid: number | null }>> {
  const list = (await api.ok('GET', '/api/instances')).body.instances as Array<{ id: string; connectionStatus: string; worker: { pid: number } | null }>;
  return new Map(list.map((i) => [i.id, { status: i.connectionStatus, pid: i.worker?.pid ?? null }]));
}

async function waitStatus(api: Api, ids: readonly string[], status: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await instancesStatus(api);
    const pending = ids.filter((id) => now.get(id)?.status !== status);
    if (pending.length === 0) return;
    if (Date.now() > deadline) throw new BenchBroken(`${pending.join(', ')} did not reach ${status} within ${timeoutMs} ms (${pending.map((id) => now.get(id)?.status).join(', ')})`);
    await sleep(250);
  }
}

async function link(api: Api, ids: readonly string[]): Promise<void> {
  for (const id of ids) await api.ok('POST', '/api/instances', { id }, [201]);
  progress(`created ${ids.join(', ')}; waiting for their QR`);
  await waitStatus(api, ids, 'QR_REQUIRED', LINK_TIMEOUT_MS);
  for (const id of ids) await api.ok('POST', `/api/demo/${id}/scan`);
  await waitStatus(api, ids, 'CONNECTED', LINK_TIMEOUT_MS);
  progress(`${ids.length} instance(s) CONNECTED`);
}

/** Phase 1: one message at a time on `instanceId`, each waited for before the next. */
async function latencyPhase(api: Api, arrivals: Arrivals, ledger: Ledger, instanceId: string, run: number, opts: Options, out: RunResult): Promise<void> {
  const measured: Array<{ messageId: string; answered: number; requestMs: number }> = [];
  for (let i = -opts.warmup; i < opts.messages; i++) {
    const { answer, messageId } = await send(api, ledger, instanceId, `latency r${run} #${i}`, chatOf(i + opts.warmup));
    const hook = await arrivals.first('sent', messageId, ONE_MESSAGE_TIMEOUT_MS);
    if (i < 0) continue;
    measured.push({ messageId, answered: answer.answered, requestMs: answer.answered - answer.started });
    out.sentByWebhook.push(hook.at - answer.answered);
    if ((i + 1) % 50 === 0) progress(`run ${run}: accepted → sent ${i + 1}/${opts.messages}`);
  }
  const rows = await rowsOf(api, instanceId);
  const page = new Map((await pageRecord(api, instanceId)).map((r) => [r.id, r]));
  for (const m of measured) {
    const row = rows.get(m.messageId);
    if (!row || row.sentAt === null) throw new BenchBroken(`message ${m.messageId} has no sentAt (row ${JSON.stringify(row)})`);
    const created = ms(row.createdAt);
    const sentAt = ms(row.sentAt);
    const hook = arrivals.sent.get(m.messageId)![0]!;
    out.acceptAnswer.push(m.requestMs);
    out.sentByRow.push(sentAt - created);
    const onPage = page.get(row.waMessageId)?.at;
    if (typeof onPage === 'number') {
      out.toPage.push(onPage - created);
      out.pageToRow.push(sentAt - onPage);
    }
    out.rowToWebhook.push(hook.wall - sentAt);
  }
}

/** Phase 2: `perInstance` messages to each of the first `n` instances, all POSTed at once. */
async function throughputPhase(api: Api, arrivals: Arrivals, ledger: Ledger, ids: readonly string[], run: number, perInstance: number): Promise<ThroughputRow> {
  const total = perInstance * ids.length;
  progress(`run ${run}: throughput, ${total} messages to ${ids.length} instance(s) at once`);
  const t0 = performance.now();
  const sends = await Promise.all(
    Array.from({ length: total }, (_, i) => {
      const id = ids[i % ids.length]!;
      return send(api, ledger, id, `throughput r${run} n${ids.length} #${i}`, chatOf(i)).then((s) => ({ id, ...s }));
    }),
  );
  const acceptMs = Math.max(...sends.map((s) => s.answer.answered)) - t0;
  progress(`run ${run}: ${total} accepted in ${Math.round(acceptMs)} ms; waiting for every sent webhook`);
  const hooks = await Promise.all(sends.map((s) => arrivals.first('sent', s.messageId, 300_000)));
  const clientMs = Math.max(...hooks.map((h) => h.at)) - t0;
  // The same machine clock as the rows' stamps: performance.now() is an offset from timeOrigin.
  const lastAcceptWall = performance.timeOrigin + t0 + acceptMs;
  let firstCreated = Infinity;
  let lastSent = -Infinity;
  let sentAfterAccepts = 0;
  for (const id of ids) {
    const rows = await rowsOf(api, id);
    for (const s of sends.filter((x) => x.id === id)) {
      const row = rows.get(s.messageId);
      if (!row || row.sentAt === null) throw new BenchBroken(`message ${s.messageId} has no sentAt`);
      firstCreated = Math.min(firstCreated, ms(row.createdAt));
      lastSent = Math.max(lastSent, ms(row.sentAt));
      if (ms(row.sentAt) > lastAcceptWall) sentAfterAccepts++;
    }
  }
  progress(`run ${run}: ${ids.length} instance(s): ${total} sent, ${perSecond(total, clientMs)!.toFixed(1)} messages/s`);
  return {
    run,
    instances: ids.length,
    messages: total,
    acceptMs,
    clientMs,
    serverMs: lastSent - firstCreated,
    afterAccepts: { sent: sentAfterAccepts, ms: Math.max(0, lastSent - lastAcceptWall) },
  };
}

/** Phase 3: inbound messages one at a time, each waited for before the next. */
async function inboundPhase(api: Api, arrivals: Arrivals, ledger: Ledger, instanceId: string, run: number, opts: Options, out: RunResult): Promise<void> {
  for (let i = -opts.warmup; i < opts.inbound; i++) {
    const body = `inbound r${run} #${i}`;
    const wallBefore = Date.now();
    const answer = await api.ok('POST', `/api/demo/${instanceId}/message`, { from: `1555700${String((i + opts.warmup) % CHATS).padStart(4, '0')}`, body });
    const waMessageId = String(answer.body.messageId);
    ledger.inbound.push({ instanceId, waMessageId, body });
    const hook = await arrivals.first('received', waMessageId, ONE_MESSAGE_TIMEOUT_MS);
    if (i < 0) continue;
    out.inbound.push(hook.at - answer.started);
    out.inboundAnswer.push(answer.answered - answer.started);
    const supervisorAt = ms(typeof hook.data.at === 'string' ? hook.data.at : null);
    out.inboundToSupervisor.push(supervisorAt - wallBefore);
    out.inboundSupervisorToWebhook.push(hook.wall - supervisorAt);
    if ((i + 1) % 50 === 0) progress(`run ${run}: inbound ${i + 1}/${opts.inbound}`);
  }
}

/** The product's correctness over everything the run did; the problems found. */
async function checkAll(api: Api, arrivals: Arrivals, ledger: Ledger): Promise<{ problems: string[]; summary: string }> {
  const problems: string[] = [];
  let sends = 0;
  let pageEntries = 0;
  for (const [instanceId, accepted] of ledger.accepted) {
    const record = await pageRecord(api, instanceId);
    sends += accepted.length;
    pageEntries += record.length;
    problems.push(...checkPageRecord(instanceId, accepted, record));
    const rows = await rowsOf(api, instanceId);
    const notSent = accepted.filter((m) => !['sent', 'delivered', 'read'].includes(rows.get(m.messageId)?.status ?? 'missing'));
    if (notSent.length > 0) problems.push(`${instanceId}: ${notSent.length} messages not sent by their row (e.g. ${notSent[0]!.messageId}: ${rows.get(notSent[0]!.messageId)?.status ?? 'no row'})`);
  }
  const allAccepted = [...ledger.accepted.values()].flat();
  problems.push(...checkAnnounced('message.status sent webhooks', allAccepted.map((m) => m.messageId), arrivals.sent));
  const byStatus = new Map<string, Timed[]>();
  for (const s of arrivals.otherStatus) byStatus.set(String(s.data.status), [...(byStatus.get(String(s.data.status)) ?? []), s]);
  for (const [status, list] of byStatus) {
    problems.push(`message.status ${status}: ${list.length} message(s) (e.g. ${String(list[0]!.data.messageId)}: ${String(list[0]!.data.reason)})`);
  }
  problems.push(...checkAnnounced('message.received webhooks', ledger.inbound.map((m) => m.waMessageId), arrivals.received));
  const wrongBody = ledger.inbound.filter((m) => arrivals.received.get(m.waMessageId)?.[0]?.data.body !== m.body).length;
  if (wrongBody > 0) problems.push(`message.received: ${wrongBody} arrived with another body (or not at all)`);
  const ours = new Set(allAccepted.map((m) => m.waMessageId));
  const echoed = [...arrivals.received.keys()].filter((id) => ours.has(id));
  if (echoed.length > 0) {
    const first = arrivals.received.get(echoed[0]!)![0]!;
    problems.push(`message.received: ${echoed.length} of our own sends were reported as received (e.g. ${JSON.stringify(first.data).slice(0, 400)})`);
  }
  const resent = [...arrivals.sent.values(), ...arrivals.received.values()].filter((list) => list.length > 1).length;
  return {
    problems,
    summary:
      `Checked: ${sends} accepted messages, ${pageEntries} entries on the page records (each message once, with its text), ` +
      `every row sent, ${arrivals.sent.size} \`sent\` webhooks, ${arrivals.otherStatus.length} other statuses; ` +
      `${ledger.inbound.length} inbound messages, ${arrivals.received.size} \`message.received\` webhooks` +
      `${resent > 0 ? `; ${resent} webhooks delivered more than once under one event id (at-least-once)` : ''}.`,
  };
}

const cell = (v: number | null, digits = 0): string => (v === null || Number.isNaN(v) ? DASH : v.toFixed(digits));
const spreadRow = (name: string, s: Spread): string[] => [name, String(s.samples), cell(s.p50, 1), cell(s.p99, 1), cell(s.max, 1)];

function latencyTable(runs: readonly RunResult[]): string {
  const all = (pick: (r: RunResult) => number[]) => spread(runs.flatMap(pick));
  return renderTable(
    ['measure', 'samples', 'p50 (ms)', 'p99 (ms)', 'max (ms)'],
    [
      spreadRow('**accepted → sent**, by webhook: 202 answer → `message.status` sent arrives here (includes webhook delivery)', all((r) => r.sentByWebhook)),
      spreadRow('**accepted → sent**, server-side: row `sentAt − createdAt`', all((r) => r.sentByRow)),
      spreadRow('  send request → 202 answer (POST /api/instance/:id/messages)', all((r) => r.acceptAnswer)),
      spreadRow('  `createdAt` → the page records the send (queue, claim, worker, whatsapp-web.js, page)', all((r) => r.toPage)),
      spreadRow('  page record → `sentAt` (answer back through the worker, row written)', all((r) => r.pageToRow)),
      spreadRow('  `sentAt` → webhook arrives here (outbox, dispatcher, HTTP)', all((r) => r.rowToWebhook)),
      spreadRow('**inbound → webhook**: right before `POST /api/demo/:id/message` → `message.received` arrives here', all((r) => r.inbound)),
      spreadRow('  the demo route\'s answer', all((r) => r.inboundAnswer)),
      spreadRow('  before the call → the supervisor takes the event (payload `at`)', all((r) => r.inboundToSupervisor)),
      spreadRow('  the supervisor\'s `at` → webhook arrives here', all((r) => r.inboundSupervisorToWebhook)),
    ],
    1,
  );
}

function throughputTable(rows: readonly ThroughputRow[]): string {
  return renderTable(
    [
      'run',
      'instances',
      'messages',
      'all accepted (s)',
      'first POST → last sent webhook (s)',
      'messages/s',
      'server-side: first createdAt → last sentAt (s)',
      'messages/s, server-side',
      'sent after the last 202: messages in s',
      'messages/s, once all accepted',
    ],
    rows.map((r) => [
      String(r.run),
      String(r.instances),
      String(r.messages),
      cell(r.acceptMs / 1000, 2),
      cell(r.clientMs / 1000, 2),
      cell(perSecond(r.messages, r.clientMs), 1),
      cell(r.serverMs / 1000, 2),
      cell(perSecond(r.messages, r.serverMs), 1),
      `${r.afterAccepts.sent} in ${cell(r.afterAccepts.ms / 1000, 2)}`,
      cell(perSecond(r.afterAccepts.sent, r.afterAccepts.ms), 1),
    ]),
    1,
  );
}

/** Everything the run started, for the cleanup. */
interface Started {
  scratch: string;
  db?: TestDatabase;
  receiver?: Receiver;
  supervisor?: SupervisorProcess;
  workerPids: Set<number>;
}

async function cleanUp(s: Started): Promise<void> {
  const step = async (what: string, work: () => Promise<unknown>) => {
    await work().catch((err: unknown) => progress(`cleanup: ${what}: ${describeError(err)}`));
  };
  if (s.supervisor) await step('stop the supervisor', () => s.supervisor!.stop(30_000));
  // Whatever of the run outlived the supervisor (its workers, a browser on the scratch profiles) is killed.
  const left = [...findProcessesWithArg(s.scratch).map((p) => p.pid), ...[...s.workerPids].filter(isOurWorker)];
  for (const pid of new Set(left)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (left.length > 0) progress(`cleanup: killed ${left.length} process(es) the supervisor left behind`);
  if (s.receiver) await step('close the receiver', () => s.receiver!.close());
  if (s.db) await step(`drop database ${s.db.name}`, () => s.db!.drop());
  if (process.env.MESSAGES_BENCH_KEEP_LOG) progress(`supervisor log kept: ${join(s.scratch, 'supervisor.log')}`);
  else rmSync(s.scratch, { recursive: true, force: true });
  progress(`cleaned up: ${chromiumProcessCount()} Chromium processes on the machine now`);
}

/** Files under src/ and lib/ written after `since` (epoch ms): from source, the supervisor and every worker load them as they start. */
function sourceChangedSince(since: number): string[] {
  const changed: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (statSync(path).mtimeMs > since) changed.push(relative(PACKAGE_ROOT, path));
    }
  };
  for (const dir of ['src', 'lib']) walk(join(PACKAGE_ROOT, dir));
  return changed;
}

/** `git status --porcelain` of src/ and lib/: what the run's code holds beyond the commit. */
function uncommittedSource(): string {
  try {
    const out = execFileSync('git', ['status', '--porcelain', '--', 'src', 'lib'], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return `commit ${commit}; src/ and lib/ ${out === '' ? 'as committed' : `with uncommitted changes: ${out.split('\n').map((l) => l.trim()).join(', ')}`}`;
  } catch {
    return 'not a git checkout';
  }
}

function builtAt(): string {
  try {
    return statSync(join(PACKAGE_ROOT, 'dist/src/main.js')).mtime.toISOString();
  } catch {
    return '(no dist/src/main.js: run npm run build)';
  }
}

/** A worker pid the supervisor reported, still alive and still a wa-fleet worker (not a reused pid). */
function isOurWorker(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('worker/main');
  } catch {
    return false;
  }
}

/** The largest 1-minute load average seen, read every few seconds (LoadWatch prints the range; the verdict needs the top). */
class LoadPeak {
  private peak = loadavg()[0] ?? 0;
  private readonly timer = setInterval(() => (this.peak = Math.max(this.peak, loadavg()[0] ?? 0)), 5_000).unref();

  max(): number {
    clearInterval(this.timer);
    return Math.max(this.peak, loadavg()[0] ?? 0);
  }
}

export async function main(argv = process.argv.slice(2)): Promise<number> {
  const opts = parseOptions(argv);
  const load = new LoadWatch();
  const loadPeak = new LoadPeak();
  const startedAt = Date.now();
  const code = opts.built ? `${uncommittedSource()}; the run uses dist/ as built ${builtAt()}` : uncommittedSource();
  const machine = machineFacts(CHROME_PATH, chromiumProcessCount());
  progress(`${machine.replaceAll('\n', '; ')}; load average ${load.atStart}`);
  progress(`code: ${code}`);
  const scratch = mkdtempSync(join(tmpdir(), 'wa-fleet-messages-'));
  // Workers run as WORKER_USER when this runs as root: they pass through to the session root.
  chmodSync(scratch, 0o711);
  const started: Started = { scratch, workerPids: new Set() };
  let cleaning: Promise<void> | null = null;
  const cleanUpOnce = () => (cleaning ??= cleanUp(started));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (cleaning) return progress(`${signal}: already cleaning up`);
      progress(`${signal}: stopping every process of this run`);
      void cleanUpOnce().finally(() => process.exit(130));
    });
  }

  try {
    const arrivals = new Arrivals();
    const receiver = (started.receiver = await startReceiver((d) => {
      arrivals.take(d.body, d.eventId);
      return 200;
    }));
    const db = (started.db = await createTestDatabase({ migrated: true }));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const settings: Record<string, string> = {
      SEND_MIN_INTERVAL_MS: '0',
      SEND_JITTER_MS: '0',
      SEND_MAX_PER_MINUTE: '0',
    };
    // From source, `--import tsx` must resolve from the working directory (the supervisor's and its
    // workers'): the package root, which holds no .env (settings here win over one anyway).
    const entry = opts.built ? join(PACKAGE_ROOT, 'dist/src/main.js') : join(PACKAGE_ROOT, 'src/main.ts');
    const supervisor = (started.supervisor = new SupervisorProcess({
      cwd: PACKAGE_ROOT,
      entry,
      logFile: join(scratch, 'supervisor.log'),
      baseUrl: base,
      env: {
        ...process.env,
        ...(opts.built ? {} : { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import tsx`.trim() }),
        NODE_ENV: 'test',
        API_KEY,
        MYSQL_URL: db.url,
        HOST: '127.0.0.1',
        PORT: String(port),
        SESSION_STORAGE_PATH: join(scratch, 'sessions'),
        CACHE_PATH: join(scratch, 'cache'),
        CHROME_PATH,
        WA_FLEET_FAKE_WEB: 'true',
        NOTIFICATION_WEBHOOK_URL: receiver.url,
        WEBHOOK_SECRET: 'messages-bench-webhook-secret-0123456789',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'warn',
        ...settings,
      },
    }));
    await supervisor.start();
    progress(`supervisor ${supervisor.pid} (${opts.built ? 'built' : 'from source'}) on ${base}; database ${db.name}; receiver ${receiver.url}`);
    const api = new Api(base);
    const most = Math.max(...opts.instancesList);
    const ids = Array.from({ length: most }, (_, i) => `msg-bench-${i + 1}`);
    await link(api, ids);
    const linkedAt = Date.now();
    const workersAtStart = new Map([...(await instancesStatus(api)).entries()].map(([id, s]) => [id, s.pid]));
    for (const pid of workersAtStart.values()) if (pid) started.workerPids.add(pid);

    const ledger: Ledger = { accepted: new Map(ids.map((id) => [id, []])), inbound: [] };
    const results: RunResult[] = [];
    for (let run = 1; run <= opts.runs; run++) {
      const r: RunResult = {
        sentByWebhook: [],
        sentByRow: [],
        acceptAnswer: [],
        toPage: [],
        pageToRow: [],
        rowToWebhook: [],
        throughput: [],
        inbound: [],
        inboundAnswer: [],
        inboundToSupervisor: [],
        inboundSupervisorToWebhook: [],
      };
      progress(`run ${run}/${opts.runs}: accepted → sent, ${opts.messages} messages one at a time on ${ids[0]} (after ${opts.warmup} not measured)`);
      await latencyPhase(api, arrivals, ledger, ids[0]!, run, opts, r);
      for (const n of opts.instancesList) r.throughput.push(await throughputPhase(api, arrivals, ledger, ids.slice(0, n), run, opts.messages));
      progress(`run ${run}/${opts.runs}: inbound, ${opts.inbound} messages one at a time on ${ids[0]} (after ${opts.warmup} not measured)`);
      await inboundPhase(api, arrivals, ledger, ids[0]!, run, opts, r);
      results.push(r);
    }
    // The sends of the throughput phases are all sent; their late webhooks (acks) may still come: a moment for stragglers.
    await sleep(1_000);
    const finalStatus = await instancesStatus(api);
    for (const { pid } of finalStatus.values()) if (pid) started.workerPids.add(pid);
    const { problems, summary } = await checkAll(api, arrivals, ledger);
    const inbound = spread(results.flatMap((r) => r.inbound));
    const verdict = inboundVerdict(inbound.p99, opts.targetMs, { maxLoad: loadPeak.max(), cores: cpus().length });
    const changedSource = opts.built ? [] : sourceChangedSince(startedAt);
    if (changedSource.length > 0) progress(`WARNING: source files changed during the run, the figures may not be those of one version: ${changedSource.join(', ')}`);
    const restarts = [...finalStatus.entries()].filter(([, s]) => s.status !== 'CONNECTED').map(([id, s]) => `${id} ${s.status}`);
    // Not a wrong answer in itself (the supervisor is there to recover), but every figure after it is a recovery's.
    const lapses = arrivals.connection
      .filter((c) => c.wall >= linkedAt && c.data.previous === 'CONNECTED')
      .map((c) => `${String(c.data.instanceId)} CONNECTED → ${String(c.data.status)} (${String(c.data.reason)}) at +${((c.wall - linkedAt) / 1000).toFixed(1)} s`);
    const newWorkers = [...finalStatus.entries()].filter(([id, s]) => s.pid !== workersAtStart.get(id)).map(([id, s]) => `${id} (pid ${workersAtStart.get(id)} → ${s.pid})`);
    if (lapses.length > 0 || newWorkers.length > 0) progress(`instances lost their connection or worker during the measurement: ${[...lapses, ...newWorkers].join('; ')}`);

    process.stdout.write(
      [
        machine,
        `Load: ${load.summary()}`,
        `Code: ${code}${changedSource.length > 0 ? `; CHANGED DURING THE RUN (the supervisor and workers load source as they start): ${changedSource.join(', ')}` : opts.built ? '' : '; no file of src/ or lib/ changed during the run'}`,
        `Supervisor: ${opts.built ? '`node dist/src/main.js` (built)' : '`src/main.ts` from source (tsx)'}, demo mode, ${most} instance(s) linked by the demo scan; ` +
          `${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' ')}; webhooks signed, to a receiver in the bench's process on loopback. ` +
          `${opts.runs} run(s) of: ${opts.messages} sends one at a time, throughput with ${opts.instancesList.join(' and ')} instance(s) × ${opts.messages} messages, ${opts.inbound} inbound one at a time; ${opts.warmup} warm-up messages before each phase not measured.`,
        '',
        latencyTable(results),
        '',
        throughputTable(results.flatMap((r) => r.throughput)),
        '',
        'Percentiles are nearest-rank over every measured message of every run. Sends and inbound messages go one at a time (the next once the previous one\'s webhook has arrived), so their latencies hold no queueing; ' +
          'the breakdown rows compare the row\'s stamps (supervisor clock), the page\'s record (Chromium\'s clock) and the arrival here (this process), all the same machine clock, in whole ms. ' +
          'Throughput: all messages POSTed at once, spread evenly over the instances; the webhook figure includes their delivery, through one lane per receiver URL, in order, alongside each message\'s `message.ack`; ' +
          '"once all accepted" counts the rows sent after the last 202 answer, over the time from that answer to the last `sentAt`: the sender without accepts competing beside it.',
        summary,
        restarts.length > 0 ? `Instances not CONNECTED at the end: ${restarts.join(', ')}` : '',
        lapses.length > 0 ? `Instances that dropped out of CONNECTED during the measurement: ${lapses.join('; ')}` : 'Every instance stayed CONNECTED throughout the measurement.',
        newWorkers.length > 0 ? `Workers replaced during the measurement: ${newWorkers.join('; ')}` : '',
        '',
        problems.length === 0 ? 'CORRECTNESS: PASS (every message sent exactly once and announced; every inbound message announced once)' : `CORRECTNESS: FAIL\n${problems.map((p) => `- ${p}`).join('\n')}`,
        verdict.line,
        '',
      ]
        .filter((line, i, all) => line !== '' || all[i - 1] !== '')
        .join('\n'),
    );
    if (problems.length > 0) {
      progress(`THE PRODUCT MISBEHAVED: ${problems.length} problem(s); the figures above measure a broken product`);
      return 1;
    }
    return 0;
  } finally {
    await cleanUpOnce();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      // A message that never arrives stops the run here too: the product's fault or the bench's, the figures are void.
      progress(`the run stopped: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exitCode = 2;
    },
  );
}
