/*
 * The two message invariants of a chaos run, as pure functions of what the harness saw: its own
 * ledger of requests and answers, the supervisor's final word on each accepted message, the fake
 * page's record of what reached "WhatsApp", and the message.received webhooks the receiver took in.
 * The page record and the receiver are the judges; the supervisor's belief is only checked against them.
 *
 * Every text the stream sends and every inbound body it fires is unique in the run, so a page entry
 * or a delivery is matched to the request behind it by content: a copy under another id (a second
 * send of the same message) cannot hide behind an id nobody asked for.
 */

/** One send request of the stream, with every retry under its Idempotency-Key. */
export interface SendRecord {
  instanceId: string;
  key: string;
  text: string;
  /**
   * accepted: answered 202 or 200 (committed, by the API's promise); refused: answered with a
   * refusal (4xx, 503) while no earlier answer of the key had been lost; unresolved: no answer
   * that settles it, even retried with the same key.
   */
  outcome: 'accepted' | 'refused' | 'unresolved';
  /** `status CODE` of the refusal, or the last failure of an unresolved one. */
  refusal: string | null;
  messageId: string | null;
  attempts: number;
  /** Answers lost on the way (connection reset, timeout, a 5xx that is no refusal): each retried with the key. */
  answersLost: number;
  /** Why each retry was made (`ECONNREFUSED`, `timeout`, `500 INTERNAL` …; a refusal after a lost answer settles nothing). */
  retries: string[];
  /** Accepted with 200: the key named a message an earlier attempt had made. */
  replayed: boolean;
}

/** A message as the API shows it at the end. */
export interface MessageView {
  id: string;
  status: string;
  reason: string | null;
  waMessageId: string | null;
}

/** One entry of the fake page's record of what reached "WhatsApp" (GET /api/demo/:id/sent). */
export interface PageEntry {
  id: string;
  body: string | null;
}

/** A page entry as read, with what tells its arrival apart from another of the same id. */
export interface PageRead extends PageEntry {
  /** Epoch ms when the page made it durable. */
  at: number;
  /** A second, third … arrival of the same id: its number. */
  repeat?: number;
}

/**
 * One instance's page record over all its lives: an instance moved to another node restores its
 * profile (and the page's record in it) from its last backup, so a later read may lack entries an
 * earlier one held, and holds the ones it kept unchanged. The union of every read, each arrival
 * once (an entry is its id, time and repeat number), in arrival order.
 */
export function pageLineage(reads: ReadonlyArray<readonly PageRead[]>): PageEntry[] {
  const seen = new Map<string, PageRead>();
  for (const read of reads) for (const e of read) seen.set(`${e.id}|${e.at}|${e.repeat ?? 1}`, e);
  return [...seen.values()].sort((a, b) => a.at - b.at).map((e) => ({ id: e.id, body: e.body }));
}

/** One inbound message fired through the demo route. */
export interface InboundRecord {
  instanceId: string;
  body: string;
  /** accepted: the page took it (200, with WhatsApp's id); refused: certainly not taken; lost: no telling. */
  outcome: 'accepted' | 'refused' | 'lost';
  refusal: string | null;
  /** WhatsApp's id of an accepted one. */
  waId: string | null;
}

/** A `message.received` webhook the receiver accepted (2xx). */
export interface ReceivedHook {
  instanceId: string;
  id: string;
  body: string | null;
}

export interface SendEvidence {
  fired: number;
  accepted: number;
  /** Accepted only on a retry with the same key (the first answer was lost or the supervisor was away). */
  acceptedAfterRetry: number;
  /** Of those, answered 200 with the message an earlier attempt (whose answer was lost) had made. */
  acceptedAsReplay: number;
  refused: number;
  refusedBy: Record<string, number>;
  answersLost: number;
  /** Retries with the same key, by what the attempt before got. */
  retriedBy: Record<string, number>;
  unresolved: number;
  /** Final states of the accepted sends (`missing`: the API does not know the message). */
  states: Record<string, number>;
  /** Accepted sends found on their page record (exactly once). */
  onPage: number;
  /** `unknown` yet on the page exactly once: under-reported, not lost. */
  unknownOnPageOnce: number;
  pageEntries: number;
}

export interface InboundEvidence {
  fired: number;
  accepted: number;
  refused: number;
  refusedBy: Record<string, number>;
  answersLost: number;
  /** What the demo route's lost answers were. */
  lostBy: Record<string, number>;
  /** `message.received` deliveries the receiver accepted. */
  deliveries: number;
  /** Accepted inbound messages delivered (by WhatsApp id, deduplicated). */
  received: number;
  /** Deliveries beyond the first of one message (at least once: allowed, counted). */
  duplicatesDelivered: number;
  /** Delivered though the demo route's answer was lost. */
  receivedAfterLostAnswer: number;
  missing: number;
}

/** Violations grouped by what went wrong: a count and a few examples each, so a bad run stays readable. */
class Findings {
  private readonly groups = new Map<string, string[]>();

  add(what: string, example: string): void {
    const list = this.groups.get(what) ?? [];
    list.push(example);
    this.groups.set(what, list);
  }

  list(prefix: string): string[] {
    return [...this.groups].map(([what, examples]) => `${prefix}: ${examples.length} ${what} (e.g. ${examples.slice(0, 3).join('; ')})`);
  }
}

const count = (into: Record<string, number>, key: string) => {
  into[key] = (into[key] ?? 0) + 1;
};

const SENT_STATES = new Set(['sent', 'delivered', 'read']);

/**
 * Every accepted send is on its instance's page record exactly once (and reported sent, delivered
 * or read, under the id it reports), or ended failed/expired with a reason and is not on the page.
 * `unknown` passes only when the page holds it exactly once (under-reported, counted); a message on
 * the page twice always fails. A refused send must not be on the page, and no page entry may be one
 * that no send of the run explains. An unresolved send (no answer even after retries) fails: the
 * client was never told. With no accepted send there is nothing to judge, which fails too.
 */
export function judgeSends(
  sends: readonly SendRecord[],
  states: ReadonlyMap<string, ReadonlyMap<string, MessageView>>,
  pages: ReadonlyMap<string, readonly PageEntry[]>,
): { violations: string[]; evidence: SendEvidence } {
  const found = new Findings();
  const evidence: SendEvidence = {
    fired: sends.length,
    accepted: 0,
    acceptedAfterRetry: 0,
    acceptedAsReplay: 0,
    refused: 0,
    refusedBy: {},
    answersLost: 0,
    retriedBy: {},
    unresolved: 0,
    states: {},
    onPage: 0,
    unknownOnPageOnce: 0,
    pageEntries: 0,
  };
  const copiesOf = new Map<string, Map<string, PageEntry[]>>();
  for (const [instanceId, entries] of pages) {
    evidence.pageEntries += entries.length;
    const byBody = new Map<string, PageEntry[]>();
    const ids = new Map<string, number>();
    for (const e of entries) {
      byBody.set(e.body ?? '', [...(byBody.get(e.body ?? '') ?? []), e]);
      ids.set(e.id, (ids.get(e.id) ?? 0) + 1);
    }
    for (const [id, n] of ids) if (n > 1) found.add('page record ids held more than once', `${instanceId} ${id} ×${n}`);
    copiesOf.set(instanceId, byBody);
  }
  const explained = new Set<string>();
  for (const s of sends) {
    evidence.answersLost += s.answersLost;
    for (const r of s.retries) count(evidence.retriedBy, r);
    explained.add(`${s.instanceId}\n${s.text}`);
    const page = copiesOf.get(s.instanceId);
    const copies = page?.get(s.text) ?? [];
    const label = `${s.instanceId} "${s.text}"`;
    if (copies.length > 1) found.add('sends on the page more than once', `${label} ×${copies.length} (${copies.map((c) => c.id).join(', ')})`);
    if (s.outcome === 'refused') {
      evidence.refused++;
      count(evidence.refusedBy, s.refusal ?? '?');
      if (copies.length > 0) found.add('refused sends on the page all the same', `${label} refused ${s.refusal}`);
      continue;
    }
    if (s.outcome === 'unresolved') {
      evidence.unresolved++;
      found.add('sends never answered, even retried with their Idempotency-Key', `${label} last ${s.refusal ?? '?'}, ${copies.length} on the page`);
      continue;
    }
    evidence.accepted++;
    if (s.attempts > 1) evidence.acceptedAfterRetry++;
    if (s.replayed) evidence.acceptedAsReplay++;
    const view = s.messageId ? states.get(s.instanceId)?.get(s.messageId) : undefined;
    if (!view) {
      count(evidence.states, 'missing');
      found.add('accepted sends the API does not know', `${label} message ${s.messageId}`);
      continue;
    }
    count(evidence.states, view.status);
    const at = `${label} message ${view.id}`;
    if (!page) {
      found.add('accepted sends on an instance whose page record could not be read', at);
      continue;
    }
    if (copies.length > 1) continue;
    const copy = copies[0];
    if (SENT_STATES.has(view.status)) {
      if (!copy) found.add('sends reported sent but not on the page', `${at} ${view.status}`);
      else if (copy.id !== view.waMessageId) found.add('sends on the page under another id than the one reported', `${at} reports ${view.waMessageId}, page has ${copy.id}`);
      else evidence.onPage++;
    } else if (view.status === 'failed' || view.status === 'expired') {
      if (!view.reason) found.add(`sends ${view.status} without a reason`, at);
      if (copy) found.add(`sends ${view.status} yet on the page`, `${at} ${view.status}: ${view.reason ?? 'no reason'}`);
    } else if (view.status === 'unknown') {
      if (copy) {
        evidence.onPage++;
        evidence.unknownOnPageOnce++;
      } else found.add('sends ended unknown and not on the page (its fate untold)', `${at}: ${view.reason ?? 'no reason'}`);
    } else {
      found.add(`sends still ${view.status} after the settle`, at);
    }
  }
  for (const [instanceId, byBody] of copiesOf) {
    for (const [body, entries] of byBody) {
      if (!explained.has(`${instanceId}\n${body}`)) found.add('page entries no send of the run explains', `${instanceId} ${entries.map((e) => e.id).join(', ')} "${body.slice(0, 60)}"`);
    }
  }
  const violations = found.list('sends');
  if (evidence.accepted === 0) violations.push('sends: no send was accepted: nothing to judge the page record against');
  else if (evidence.pageEntries === 0) violations.push('sends: the page records hold nothing: no send was seen reaching WhatsApp');
  return { violations, evidence };
}

/**
 * Every inbound message the demo route accepted reached the receiver as `message.received`, by its
 * WhatsApp id (duplicates allowed and counted), with its body. A delivery no fired message explains
 * (one of the supervisor's own sends reported as received, or anything else) fails. A run that
 * accepted or delivered none has nothing to judge, which fails too.
 */
export function judgeInbound(
  fired: readonly InboundRecord[],
  hooks: readonly ReceivedHook[],
  ownSends: ReadonlySet<string>,
): { violations: string[]; evidence: InboundEvidence } {
  const found = new Findings();
  const evidence: InboundEvidence = {
    fired: fired.length,
    accepted: 0,
    refused: 0,
    refusedBy: {},
    answersLost: 0,
    lostBy: {},
    deliveries: hooks.length,
    received: 0,
    duplicatesDelivered: 0,
    receivedAfterLostAnswer: 0,
    missing: 0,
  };
  const byId = new Map<string, ReceivedHook[]>();
  for (const h of hooks) byId.set(`${h.instanceId}\n${h.id}`, [...(byId.get(`${h.instanceId}\n${h.id}`) ?? []), h]);
  const explainedIds = new Set<string>();
  const lostBodies = new Set<string>();
  for (const f of fired) {
    if (f.outcome === 'refused') {
      evidence.refused++;
      count(evidence.refusedBy, f.refusal ?? '?');
      continue;
    }
    if (f.outcome === 'lost') {
      evidence.answersLost++;
      count(evidence.lostBy, f.refusal ?? '?');
      lostBodies.add(`${f.instanceId}\n${f.body}`);
      continue;
    }
    evidence.accepted++;
    const key = `${f.instanceId}\n${f.waId}`;
    explainedIds.add(key);
    const got = byId.get(key) ?? [];
    if (got.length === 0) {
      evidence.missing++;
      found.add('accepted inbound messages never delivered to the receiver', `${f.instanceId} ${f.waId} "${f.body}"`);
      continue;
    }
    evidence.received++;
    evidence.duplicatesDelivered += got.length - 1;
    const wrong = got.find((h) => h.body !== f.body);
    if (wrong) found.add('inbound messages delivered with another body', `${f.instanceId} ${f.waId}: "${wrong.body}" for "${f.body}"`);
  }
  for (const [key, got] of byId) {
    if (explainedIds.has(key)) continue;
    const [h] = got as [ReceivedHook];
    if (lostBodies.has(`${h.instanceId}\n${h.body ?? ''}`)) evidence.receivedAfterLostAnswer++;
    else if (ownSends.has(h.id)) found.add("deliveries of the supervisor's own sends as received messages", `${h.instanceId} ${h.id}`);
    else found.add('received messages nobody fired', `${h.instanceId} ${h.id} "${(h.body ?? '').slice(0, 60)}"`);
  }
  const violations = found.list('inbound');
  if (evidence.accepted === 0) violations.push('inbound: no inbound message was accepted by the demo route: nothing to judge the receiver against');
  else if (evidence.received === 0 && evidence.missing === 0) violations.push('inbound: no inbound message was delivered: nothing judged');
  return { violations, evidence };
}

/** The `message.received` deliveries among the bodies a webhook receiver accepted. */
export function receivedHooks(bodies: readonly string[]): ReceivedHook[] {
  const hooks: ReceivedHook[] = [];
  for (const text of bodies) {
    let parsed: { event?: string; instanceId?: string; data?: { id?: string; body?: string | null } };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      continue;
    }
    if (parsed.event !== 'message.received' || !parsed.data?.id) continue;
    hooks.push({ instanceId: String(parsed.instanceId), id: String(parsed.data.id), body: parsed.data.body ?? null });
  }
  return hooks;
}
