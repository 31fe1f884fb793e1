import { between, pick, seededRandom, type Random } from '../../lib/seeded-random.js';
import { sleep } from '../../lib/timeout.js';
import type { Receiver } from '../../tests/support/webhook-receiver.js';
import type { InstanceSummary } from '../support/api-client.js';
import { FaultKind } from './faults.js';
import {
  judgeInbound,
  judgeSends,
  pageLineage,
  receivedHooks,
  type InboundEvidence,
  type InboundRecord,
  type MessageView,
  type PageEntry,
  type PageRead,
  type SendEvidence,
  type SendRecord,
} from './message-verdict.js';

/*
 * The chaos run's message stream: while the faults go on, every instance is sent text messages
 * (to a few chats, each request with its own Idempotency-Key) and receives inbound messages fired
 * through the demo route, at a steady modest rate, all drawn from the run's seed. Only the public
 * API is used, as a client would use it: a send whose answer was lost (the connection reset or
 * timed out, a 5xx that is no refusal) is retried with the same key until it is answered; a
 * refusal (4xx, 503 DATABASE_UNAVAILABLE …) is counted, not retried. Right before some kills
 * (worker SIGKILL, supervisor SIGKILL) the target's page is told to hang its next send, so the
 * kill lands on a message that is `sending`: the crash points of the send path.
 *
 * At the end (message-verdict.ts): every accepted send is on the page exactly once or ended
 * failed/expired with a reason; every inbound message the page took reached the receiver.
 *
 * With several nodes each request goes to a node that answers (forwarded to the instance's owner),
 * and a node fault or an unpair is preceded by a quiet moment (quiesce): "WhatsApp"'s record of
 * the sends lives in the page's profile, which moves to another node only as its last backup and
 * is deleted with an unpaired session, so before such a fault the stream stops firing, waits until
 * nothing is queued or sending and every inbound message the pages took is recorded, and reads
 * every page; the stream goes on the moment the fault hits. The verdict judges each instance's
 * pages over all their lives.
 */

export interface MessageStreamOptions {
  seed: number;
  /** Pause between two sends of one instance (ms, min and max). */
  sendEveryMs: readonly [number, number];
  /** Pause between two inbound messages of one instance (ms, min and max). */
  inboundEveryMs: readonly [number, number];
  /** How long one send is retried with its key while its answers are lost, before the end takes it up again. */
  retryForMs: number;
  /** Share of worker and supervisor SIGKILLs preceded by a hung send (0–1); the run's first such kill always is. */
  armShare: number;
  /**
   * Share of sends whose first answer the client stops waiting for after a few ms (0–1): the
   * request may or may not have been committed, and the retry with the same key must tell.
   */
  cutShare: number;
  /**
   * Faults preceded by a quiet moment (quiesce): with several nodes, those after which an
   * instance's page may come back without its record (a node taken away; an unpair, which with
   * SESSION_STORE=mysql deletes the session and its profile).
   */
  quietBefore: readonly FaultKind[];
}

export const DEFAULT_STREAM: Omit<MessageStreamOptions, 'seed'> = {
  // About 20 sends a minute per instance: under SEND_MAX_PER_MINUTE (30), so a queue held up by a fault drains.
  sendEveryMs: [2_000, 4_000],
  inboundEveryMs: [2_000, 4_000],
  retryForMs: 90_000,
  armShare: 0.5,
  cutShare: 0.1,
  quietBefore: [],
};

/** Chats each instance writes to (all on WhatsApp), and the phones inbound messages come from. */
const CHATS = ['15551230001', '15551230002', '15551230003', '15551230004'];
const SENDERS = ['15557654321', '15557654322', '15557654323'];
const REQUEST_TIMEOUT_MS = 10_000;
/** How long after a hang is armed the run waits to see a message `sending` on the target. */
const HANG_WAIT_MS = 10_000;
const HANG_MODES = ['hang-before-record', 'hang-after-record'] as const;
/** How long a quiet moment before a node fault may take (requests answered, queues empty, inbound recorded). */
const QUIET_MS = 30_000;

interface Answer {
  status: number;
  body: any;
}

/** What a failed request says: `status CODE` for an answer, the network error's code otherwise. */
function describe(answer: Answer | null, err?: unknown): string {
  if (answer) return `${answer.status} ${answer.body?.error?.code ?? ''}`.trim();
  const e = err as { name?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timeout';
  return e?.cause?.code ?? e?.name ?? 'network error';
}

/** A connection refused never reached the supervisor: nothing can have been committed. */
const neverArrived = (err: unknown): boolean => (err as { cause?: { code?: string } })?.cause?.code === 'ECONNREFUSED';

export interface StreamReport {
  sends: SendEvidence;
  inbound: InboundEvidence;
  /**
   * Kills preceded by a hung send, how many of them found a message `sending` on the target, and
   * what became of each message a kill landed on (its final state, how often it is on the page).
   */
  crashPoints: { armed: number; landed: number; notes: string[]; fates: string[] };
  /** How long the final settle took, and what still waited at its end. */
  settle: { ms: number; waiting: number; inboundMissing: number };
  /** Quiet moments before node faults, and how many were not quiet within their bound (their notes say what was left). */
  quiet: { asked: number; notQuiet: number };
}

export class MessageStream {
  private readonly sends: SendRecord[] = [];
  private readonly inbound: InboundRecord[] = [];
  private readonly tasks = new Set<Promise<void>>();
  private readonly loops: Promise<void>[] = [];
  private running = false;
  /** The run ended early: requests in flight give up instead of retrying. */
  private abandoned = false;
  private readonly armRandom: Random;
  private readonly crashPoints = { armed: 0, landed: 0, notes: [] as string[], fates: [] as string[] };
  /** The messages kills landed on, with how their page was told to hang. */
  private readonly landedOn: Array<{ instanceId: string; messageId: string; mode: string }> = [];
  /** Worker and supervisor SIGKILLs seen so far (the first is always armed: even a short run has a crash point). */
  private kills = 0;
  private settleFacts = { ms: 0, waiting: 0, inboundMissing: 0 };
  /** Firing held (quiesce, until resume). */
  private paused = false;
  /** Every read of each instance's page (quiesce, and the verdict's own). */
  private readonly pageReads = new Map<string, PageRead[][]>();
  /** Quiet moments before node faults, and how many were not quiet within their bound. */
  private readonly quiet = { asked: 0, notQuiet: 0 };
  /** WhatsApp ids of inbound messages seen recorded (so each is asked about once). */
  private readonly recordedInbound = new Set<string>();

  constructor(
    /** A node that answers now (each call may name another). */
    private readonly base: () => string,
    private readonly key: string,
    private readonly ids: readonly string[],
    private readonly options: MessageStreamOptions,
    /** Of these WhatsApp ids of inbound messages, the ones the product has recorded (with several nodes: see quiesce). */
    private readonly inboundRecorded: (waIds: string[]) => Promise<Set<string>> = async () => new Set(),
  ) {
    // Its own generators, apart from the fault sequence's: the same seed draws the same faults with or without the stream.
    this.armRandom = seededRandom(mix(options.seed, 0x6a17));
  }

  start(): void {
    this.running = true;
    this.ids.forEach((id, i) => {
      this.loops.push(this.sendLoop(id, seededRandom(mix(this.options.seed, 2 * i + 1))));
      this.loops.push(this.inboundLoop(id, seededRandom(mix(this.options.seed, 2 * i + 2))));
    });
  }

  /** Stops firing, and waits for every request in flight (each bounded by its retries; `abandon`: no more retries). */
  async stop(abandon = false): Promise<void> {
    this.running = false;
    this.abandoned ||= abandon;
    await Promise.all(this.loops);
    while (this.tasks.size > 0) await Promise.all([...this.tasks]);
  }

  private track(work: Promise<void>): void {
    // A task never rejects (each catches its own failures); a bug in one must not stop the run.
    const task: Promise<void> = work.catch(() => undefined).finally(() => this.tasks.delete(task));
    this.tasks.add(task);
  }

  private async sendLoop(id: string, random: Random): Promise<void> {
    let n = 0;
    while (this.running) {
      await sleep(between(random, this.options.sendEveryMs[0], this.options.sendEveryMs[1]));
      if (!this.running) break;
      if (this.paused) continue;
      n++;
      const chat = pick(random, CHATS);
      const cut = random() < this.options.cutShare;
      const cutAfterMs = between(random, 1, 12);
      this.send(id, chat, `s${n}`, cut ? cutAfterMs : null);
    }
  }

  private async inboundLoop(id: string, random: Random): Promise<void> {
    let n = 0;
    while (this.running) {
      await sleep(between(random, this.options.inboundEveryMs[0], this.options.inboundEveryMs[1]));
      if (!this.running) break;
      if (this.paused) continue;
      n++;
      this.fireInbound(id, pick(random, SENDERS), n);
    }
  }

  private async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Answer> {
    const res = await fetch(`${this.base()}${path}`, {
      method,
      headers: { 'x-api-key': this.key, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed };
  }

  /**
   * Fires one send (in the background); `tag` makes its key and text unique in the run. With
   * `cutAfterMs`, the client stops waiting for the first answer after that long.
   */
  private send(id: string, chat: string, tag: string, cutAfterMs: number | null = null): SendRecord {
    const record: SendRecord = {
      instanceId: id,
      key: `chaos-${this.options.seed}-${id}-${tag}`,
      text: `chaos seed ${this.options.seed} ${id} ${tag} to ${chat}`,
      outcome: 'unresolved',
      refusal: null,
      messageId: null,
      attempts: 0,
      answersLost: 0,
      retries: [],
      replayed: false,
    };
    this.sends.push(record);
    this.track(this.settleSend(record, chat, Date.now() + this.options.retryForMs, cutAfterMs));
    return record;
  }

  /**
   * Asks until an answer settles the request or `until` passes: 202/200 accepted; a refusal
   * settles it only while no earlier answer of this key was lost (after a lost answer, the first
   * request may have been committed, and only the key's 200 can say so).
   */
  private async settleSend(record: SendRecord, chat: string, until: number, cutAfterMs: number | null = null): Promise<void> {
    const path = `/api/instance/${encodeURIComponent(record.instanceId)}/messages`;
    for (;;) {
      record.attempts++;
      let answer: Answer | null = null;
      let error: unknown;
      try {
        const timeoutMs = record.attempts === 1 && cutAfterMs !== null ? cutAfterMs : REQUEST_TIMEOUT_MS;
        answer = await this.call('POST', path, { to: chat, text: record.text }, { 'idempotency-key': record.key }, timeoutMs);
      } catch (err) {
        error = err;
      }
      if (answer && (answer.status === 202 || answer.status === 200)) {
        record.outcome = 'accepted';
        record.messageId = String(answer.body?.message?.id);
        record.replayed = answer.status === 200;
        record.refusal = null;
        return;
      }
      const refusal = answer !== null && (answer.status < 500 || answer.status === 503);
      if (refusal && record.answersLost === 0) {
        record.outcome = 'refused';
        record.refusal = describe(answer);
        return;
      }
      if (!refusal && !(error !== undefined && neverArrived(error))) record.answersLost++;
      record.refusal = describe(answer, error);
      if (Date.now() > until || this.abandoned) return;
      record.retries.push(record.refusal);
      // A cut answer is asked again at once: the first request may still be on its way (the key must hold against that too).
      await sleep(record.attempts === 1 && cutAfterMs !== null ? 0 : 2_000);
    }
  }

  private fireInbound(id: string, from: string, n: number): void {
    const record: InboundRecord = { instanceId: id, body: `chaos seed ${this.options.seed} ${id} inbound #${n} from ${from}`, outcome: 'lost', refusal: null, waId: null };
    this.inbound.push(record);
    this.track(
      (async () => {
        try {
          const answer = await this.call('POST', `/api/demo/${encodeURIComponent(id)}/message`, { from, body: record.body });
          if (answer.status === 200 && typeof answer.body?.messageId === 'string') {
            record.outcome = 'accepted';
            record.waId = answer.body.messageId;
          } else if (answer.status === 409 || answer.status === 404 || answer.status === 400 || answer.body?.error?.code === 'INSTANCE_NOT_PLACED') {
            // No running worker, no node running it, or a request the page never saw: certainly not taken.
            record.outcome = 'refused';
            record.refusal = describe(answer);
          } else record.refusal = describe(answer); // the worker may have gone after the page took it: no telling
        } catch (err) {
          record.refusal = describe(null, err);
          // Refused at the door (the supervisor is restarting): the page never saw it.
          if (neverArrived(err)) record.outcome = 'refused';
        }
      })(),
    );
  }

  /**
   * Called right before a fault hits (faults.ts `beforeHit`): before some worker and supervisor
   * SIGKILLs, the target's page is told to hang its next send (before or after it reaches
   * "WhatsApp"), a message is sent to it, and the run waits until a message has been `sending`
   * for a second: the kill then lands on it. Draws the same numbers for every such fault, so the
   * choices follow from the seed alone.
   */
  async beforeHit(kind: FaultKind, target: InstanceSummary | null): Promise<string[]> {
    if (this.options.quietBefore.includes(kind)) return this.quiesce();
    if (kind !== FaultKind.WORKER_KILL && kind !== FaultKind.SUPERVISOR_KILL) return [];
    const first = this.kills++ === 0;
    const arm = this.armRandom() < this.options.armShare || first;
    const mode = pick(this.armRandom, HANG_MODES);
    const id = target?.id ?? pick(this.armRandom, this.ids);
    if (!arm || !this.running) return [];
    let armed: Answer | null = null;
    try {
      armed = await this.call('POST', `/api/demo/${encodeURIComponent(id)}/send-fault`, { mode, count: 1 });
    } catch {
      /* reported below */
    }
    if (armed?.status !== 200) {
      const note = `could not arm ${mode} on ${id}: ${describe(armed)}`;
      this.crashPoints.notes.push(note);
      return [note];
    }
    this.crashPoints.armed++;
    this.send(id, CHATS[0]!, `hang${this.crashPoints.armed}`);
    const landed = await this.waitSending(id);
    if (landed) {
      this.crashPoints.landed++;
      this.landedOn.push({ instanceId: id, messageId: landed, mode });
    }
    const note = landed ? `${mode} armed on ${id}: the kill lands on message ${landed}, sending` : `${mode} armed on ${id}: no message was seen sending within ${HANG_WAIT_MS / 1000} s`;
    this.crashPoints.notes.push(note);
    return [note];
  }

  /**
   * Before a node fault: nothing fired, then (up to QUIET_MS) every request answered, no message
   * queued or sending, every inbound message a page took recorded; then every page is read, so
   * what "WhatsApp" holds when the node goes is known whatever the move restores. resume() ends it.
   */
  private async quiesce(): Promise<string[]> {
    if (!this.running) return [];
    this.paused = true;
    this.quiet.asked++;
    const deadline = Date.now() + QUIET_MS;
    let left = await this.stillMoving();
    while (left !== null && Date.now() < deadline) {
      await sleep(250);
      left = await this.stillMoving();
    }
    if (left !== null) this.quiet.notQuiet++;
    const unread: string[] = [];
    for (const id of this.ids) await this.pageOf(id).catch(() => unread.push(id));
    return [left === null ? 'messages quiet' : `messages not quiet within ${QUIET_MS / 1000} s: ${left}`, ...(unread.length > 0 ? [`pages not read: ${unread.join(', ')}`] : [])];
  }

  /** The stream fires again (the node fault has hit). */
  resume(): void {
    this.paused = false;
  }

  /** What keeps the stream from being quiet, or null. */
  private async stillMoving(): Promise<string | null> {
    if (this.tasks.size > 0) return `${this.tasks.size} request(s) in flight`;
    const waiting = await this.waitingCount().catch(() => -1);
    if (waiting !== 0) return waiting < 0 ? 'message counts unreadable' : `${waiting} message(s) queued or sending`;
    const taken = this.inbound.flatMap((f) => (f.outcome === 'accepted' && f.waId && !this.recordedInbound.has(f.waId) ? [f.waId] : []));
    const recorded = await this.inboundRecorded(taken).catch(() => new Set<string>());
    recorded.forEach((id) => this.recordedInbound.add(id));
    const missing = taken.length - recorded.size;
    return missing > 0 ? `${missing} inbound message(s) not recorded yet` : null;
  }

  /** The id of a message of `id` seen `sending` in two looks a second apart, or null. */
  private async waitSending(id: string): Promise<string | null> {
    const deadline = Date.now() + HANG_WAIT_MS;
    const since = new Map<string, number>();
    while (Date.now() < deadline) {
      const answer = await this.call('GET', `/api/instance/${encodeURIComponent(id)}/messages?status=sending&limit=10`).catch(() => null);
      const now = Date.now();
      for (const m of (answer?.body?.messages ?? []) as Array<{ id: string }>) {
        const first = since.get(m.id) ?? now;
        since.set(m.id, first);
        if (now - first >= 1_000) return m.id;
      }
      await sleep(250);
    }
    return null;
  }

  /**
   * The end: sends never answered are asked again with their keys (the fleet is whole and the
   * database up by now), then the run waits until no message of the run's instances is queued or
   * sending and every inbound message the page took was delivered, at most `withinMs`.
   */
  async settle(receiver: Receiver, withinMs: number): Promise<void> {
    const started = Date.now();
    const deadline = started + withinMs;
    const open = this.sends.filter((s) => s.outcome === 'unresolved');
    await Promise.all(open.map((s) => this.settleSend(s, /to (\d+)$/.exec(s.text)![1]!, deadline)));
    let waiting = Number.POSITIVE_INFINITY;
    let inboundMissing = Number.POSITIVE_INFINITY;
    for (;;) {
      waiting = await this.waitingCount().catch(() => Number.POSITIVE_INFINITY);
      const delivered = new Set(receivedHooks(receiver.accepted().map((d) => d.body)).map((h) => `${h.instanceId}\n${h.id}`));
      inboundMissing = this.inbound.filter((f) => f.outcome === 'accepted' && !delivered.has(`${f.instanceId}\n${f.waId}`)).length;
      if ((waiting === 0 && inboundMissing === 0) || Date.now() > deadline) break;
      await sleep(2_000);
    }
    this.settleFacts = { ms: Date.now() - started, waiting: Number.isFinite(waiting) ? waiting : -1, inboundMissing };
  }

  /** Messages queued or sending over all the run's instances (each list answer carries its instance's counts). */
  private async waitingCount(): Promise<number> {
    let n = 0;
    for (const id of this.ids) {
      const answer = await this.call('GET', `/api/instance/${encodeURIComponent(id)}/messages?limit=1`);
      if (answer.status !== 200) throw new Error(`messages of ${id}: ${describe(answer)}`);
      const counts = answer.body.counts as Record<string, number>;
      n += (counts.queued ?? 0) + (counts.sending ?? 0);
    }
    return n;
  }

  /** Every message of the instance as the API shows it (pages of 200, newest first). */
  private async messagesOf(id: string): Promise<Map<string, MessageView>> {
    const all = new Map<string, MessageView>();
    let before: number | null = null;
    for (;;) {
      const answer: Answer = await this.call('GET', `/api/instance/${encodeURIComponent(id)}/messages?limit=200${before === null ? '' : `&before=${before}`}`);
      if (answer.status !== 200) throw new Error(`messages of ${id}: ${describe(answer)}`);
      for (const m of answer.body.messages as MessageView[]) all.set(m.id, { id: m.id, status: m.status, reason: m.reason, waMessageId: m.waMessageId });
      before = answer.body.next as number | null;
      if (before === null) return all;
    }
  }

  /** The page's record of what reached "WhatsApp" for the instance, kept among its reads (tried a few times: the page may be between loads). */
  private async pageOf(id: string): Promise<void> {
    let last = '';
    for (let i = 0; i < 10; i++) {
      const answer = await this.call('GET', `/api/demo/${encodeURIComponent(id)}/sent`).catch((err: unknown) => {
        last = describe(null, err);
        return null;
      });
      if (answer?.status === 200) {
        const read = (answer.body.sent as PageRead[]).map((e) => ({ id: e.id, body: e.body, at: e.at, repeat: e.repeat }));
        this.pageReads.set(id, [...(this.pageReads.get(id) ?? []), read]);
        return;
      }
      if (answer) last = describe(answer);
      await sleep(2_000);
    }
    throw new Error(`the page record of ${id} could not be read: ${last}`);
  }

  /** Both invariants, judged from the page records and the receiver. */
  async verdict(receiver: Receiver): Promise<{ violations: string[]; report: StreamReport }> {
    const violations: string[] = [];
    const states = new Map<string, Map<string, MessageView>>();
    const pages = new Map<string, PageEntry[]>();
    for (const id of this.ids) {
      try {
        states.set(id, await this.messagesOf(id));
      } catch (err) {
        violations.push(`sends: ${(err as Error).message}`);
      }
      try {
        await this.pageOf(id);
        pages.set(id, pageLineage(this.pageReads.get(id) ?? []));
      } catch (err) {
        violations.push(`sends: ${(err as Error).message}`);
      }
    }
    const sends = judgeSends(this.sends, states, pages);
    const own = new Set([...states.values()].flatMap((m) => [...m.values()].map((v) => v.waMessageId ?? '')));
    const inbound = judgeInbound(this.inbound, receivedHooks(receiver.accepted().map((d) => d.body)), own);
    violations.push(...sends.violations, ...inbound.violations);
    this.crashPoints.fates = this.landedOn.map(({ instanceId, messageId, mode }) => {
      const view = states.get(instanceId)?.get(messageId);
      const copies = (pages.get(instanceId) ?? []).filter((e) => e.id === view?.waMessageId).length;
      return `${instanceId} ${messageId} (${mode}): ${view?.status ?? 'not found'}, ${copies}× on the page`;
    });
    return { violations, report: { sends: sends.evidence, inbound: inbound.evidence, crashPoints: this.crashPoints, settle: this.settleFacts, quiet: this.quiet } };
  }
}

/** A seed for one of the stream's generators, apart from the run's own. */
function mix(seed: number, salt: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(salt, 0xc2b2ae35)) | 0;
}

/** One line of what the stream did and how it was judged. */
export function streamSummary(r: StreamReport): string {
  const list = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  const s = r.sends;
  const i = r.inbound;
  return (
    `messages: sends ${s.fired} fired, ${s.accepted} accepted (${s.acceptedAfterRetry} on a retry with their key, ${s.acceptedAsReplay} of them answered 200 with the message an earlier attempt made), ${s.refused} refused (${list(s.refusedBy)}), ` +
    `${s.answersLost} answers lost, retries ${list(s.retriedBy)}, ${s.unresolved} never answered; final states ${list(s.states)}; ${s.onPage} on the page exactly once ` +
    `(${s.unknownOnPageOnce} of them unknown: under-reported), ${s.pageEntries} page entries\n` +
    `inbound: ${i.fired} fired, ${i.accepted} accepted by the page, ${i.refused} refused (${list(i.refusedBy)}), ${i.answersLost} answers lost (${list(i.lostBy)}); ` +
    `${i.received} received by the receiver, ${i.missing} missing, ${i.duplicatesDelivered} duplicate deliveries, ${i.receivedAfterLostAnswer} received after a lost answer (${i.deliveries} deliveries)\n` +
    `crash points: ${r.crashPoints.armed} kills preceded by a hung send, ${r.crashPoints.landed} landed on a message sending` +
    `${r.crashPoints.fates.length > 0 ? ` (${r.crashPoints.fates.join('; ')})` : ''}; ` +
    `final settle ${(r.settle.ms / 1000).toFixed(1)} s (${r.settle.waiting} still waiting, ${r.settle.inboundMissing} inbound undelivered)` +
    (r.quiet.asked > 0 ? `; ${r.quiet.asked} quiet moments before node faults and unpairs (${r.quiet.notQuiet} not quiet within ${QUIET_MS / 1000} s)` : '')
  );
}
