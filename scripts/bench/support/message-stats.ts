/**
 * The message bench's pure parts: percentiles, rates, the inbound verdict and the correctness
 * checks against the fake page's record and the webhook receiver. No I/O here.
 */

/** Nearest-rank percentile (p in 0…100) of `values`; null when there are none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0…100, got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export interface Spread {
  samples: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

export function spread(values: readonly number[]): Spread {
  return {
    samples: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: values.length === 0 ? null : Math.max(...values),
  };
}

/** Messages per second: `count` over `ms`; null when the span is not positive. */
export function perSecond(count: number, ms: number): number | null {
  return ms > 0 ? (count * 1000) / ms : null;
}

export interface Verdict {
  ok: boolean;
  line: string;
}

/**
 * The must-show's target: inbound p99 under `targetMs`. FAIL without samples. The target is set
 * for an idle machine: when the 1-minute load average went over the number of cores, the line
 * says so (the verdict stands as measured).
 */
export function inboundVerdict(p99: number | null, targetMs: number, load: { maxLoad: number; cores: number }): Verdict {
  const ok = p99 !== null && p99 < targetMs;
  const measured = p99 === null ? 'no samples' : `p99 ${p99.toFixed(1)} ms`;
  const busy = load.maxLoad > load.cores ? `; not an idle machine: 1-minute load average up to ${load.maxLoad.toFixed(2)} on ${load.cores} cores` : '';
  return { ok, line: `VERDICT inbound event → webhook p99 < ${targetMs} ms: ${ok ? 'PASS' : 'FAIL'} (${measured}${busy})` };
}

/** A message the bench had accepted (202), as it must appear on the page. */
export interface AcceptedSend {
  messageId: string;
  waMessageId: string;
  body: string;
}

/** One entry of the fake page's record of what reached "WhatsApp" (`GET /api/demo/:id/sent`). */
export interface PageRecord {
  id: string;
  body?: string | null;
  at?: number;
}

/**
 * Every accepted message on the page exactly once, under the id the supervisor gave it and with
 * its text, and nothing else there. Returns the problems, empty when all is well.
 */
export function checkPageRecord(instanceId: string, accepted: readonly AcceptedSend[], record: readonly PageRecord[]): string[] {
  const problems: string[] = [];
  const byId = new Map<string, PageRecord[]>();
  for (const r of record) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
  const expected = new Set<string>();
  let missing = 0;
  let doubled = 0;
  let wrongBody = 0;
  for (const m of accepted) {
    expected.add(m.waMessageId);
    const found = byId.get(m.waMessageId) ?? [];
    if (found.length === 0) missing++;
    else if (found.length > 1) doubled++;
    else if (found[0]!.body !== m.body) wrongBody++;
  }
  const extra = record.filter((r) => !expected.has(r.id)).length;
  const example = (what: string, pick: (m: AcceptedSend) => boolean) => {
    const m = accepted.find(pick);
    return m ? ` (e.g. ${what} ${m.messageId} / ${m.waMessageId})` : '';
  };
  if (missing > 0) problems.push(`${instanceId}: ${missing} of ${accepted.length} accepted messages never reached the page${example('message', (m) => !byId.has(m.waMessageId))}`);
  if (doubled > 0) problems.push(`${instanceId}: ${doubled} messages are on the page more than once${example('message', (m) => (byId.get(m.waMessageId)?.length ?? 0) > 1)}`);
  if (wrongBody > 0) problems.push(`${instanceId}: ${wrongBody} messages reached the page with another text`);
  if (extra > 0) problems.push(`${instanceId}: ${extra} messages on the page that the bench never sent`);
  return problems;
}

/** One webhook as the receiver took it in. */
export interface Arrival {
  eventId: string;
  event: string;
  data: Record<string, unknown>;
}

/**
 * Every fired key (an outbound message id for `message.status` sent, an inbound WhatsApp id for
 * `message.received`) announced exactly once: one event id. A resend of the same event id (at
 * least once delivery) is not a second announcement. Returns the problems, empty when all is well.
 */
export function checkAnnounced(what: string, fired: readonly string[], arrivals: ReadonlyMap<string, readonly Arrival[]>): string[] {
  let missing = 0;
  let twice = 0;
  let firstMissing: string | undefined;
  for (const key of fired) {
    const events = new Set((arrivals.get(key) ?? []).map((a) => a.eventId));
    if (events.size === 0) {
      missing++;
      firstMissing ??= key;
    } else if (events.size > 1) twice++;
  }
  const problems: string[] = [];
  if (missing > 0) problems.push(`${what}: ${missing} of ${fired.length} never arrived (e.g. ${firstMissing})`);
  if (twice > 0) problems.push(`${what}: ${twice} announced more than once (distinct event ids)`);
  return problems;
}
