/**
 * The proof of "zero manual intervention": the supervisor is started as a user starts it (built,
 * demo mode, its own MariaDB from ensure-mysql.sh), N instances are linked through the demo scan,
 * then F faults chosen by a seeded generator (every kind within each 13) hit it one at a time, with random gaps. After each
 * fault the run waits (bounded) for the fleet to settle and checks the invariants; at the end it
 * prints a table per fault kind, writes a JSON report, and exits non-zero on any violation.
 * Throughout, a message stream (scripts/chaos/messages.ts) sends messages and fires inbound ones
 * on every instance; at the end every accepted send must be on the fake page exactly once (or
 * failed/expired with a reason) and every inbound message the page took must have reached the
 * webhook receiver.
 *
 * Run: npm run chaos -- --instances 5 --faults 100 --seed 1
 *
 * Options: --instances N, --faults F, --seed S, --kinds a,b (only these fault kinds),
 * --gap-s MIN,MAX (pause between faults), --bound-s B (time the fleet has to settle after a
 * fault ends), --worker-stop-s, --mysql-down-s MIN,MAX, --hostile N (requests per burst),
 * --webhook-outage-s, --out DIR (report.json and the supervisor's log; default data/chaos/<seed>-<time>),
 * --send-every-s MIN,MAX and --inbound-every-s MIN,MAX (the stream's pace per instance), --message-settle-s
 * (time the messages have at the end to leave queued/sending and the inbound ones to arrive).
 *
 * --defect NAME runs a deliberately broken copy of the build instead (scripts/chaos/defects.ts):
 * the run must then fail, which proves the check that names the defect can.
 *
 * --nodes N (N > 1) runs the product as N supervisors (separate processes, CLUSTER=on,
 * SESSION_STORE=mysql, one MariaDB reached by each node through its own TCP relay: ClusterRun) and
 * deals a deck of 14 kinds: the instance faults (aimed at an instance on whichever node runs it)
 * and the node faults node_sigkill (restarted empty), node_sigstop (for 2 × LEASE_TTL_MS, then
 * SIGCONT), node_mysql_cut (its relay cut until its instances moved, then restored) and
 * node_sigterm (hand-over, restarted), each aimed at the node running the most instances and
 * checked as the failover bench checks it (scripts/cluster/failover.ts). mysql_stop and the
 * supervisor's SIGKILL/SIGTERM are left out: a full database outage stops a cluster by design.
 * Every 200 ms the cluster sampler judges across all nodes: never two live browsers for one
 * instance, never an enabled instance unowned past TTL + one renewal. Requests go to the nodes in
 * turn (forwarded to each instance's owner); before each node fault and each unpaired the message stream is quiet
 * for a moment (scripts/chaos/messages.ts says why). --ttl-ms and --renew-ms set the leases
 * (default the product's, 15000 and 3000, as the failover bench ran them). The supervisor memory
 * rule is not judged with several nodes (nodes restart, and their loads differ by design).
 * Example: npm run chaos -- --nodes 3 --instances 9 --faults 60 --seed 1
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { RowDataPacket } from 'mysql2/promise';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readMemory } from '../lib/proc-memory.js';
import { between, seededRandom } from '../lib/seeded-random.js';
import { sleep } from '../lib/timeout.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { startReceiver } from '../tests/support/webhook-receiver.js';
import { CHROME_PATH } from './bench/support/fleet-run.js';
import { describeError, LoadWatch, machineFacts, chromiumProcessCount, progress } from './bench/support/machine.js';
import { ClusterSampler } from './cluster/sampler.js';
import { buildDefective, DEFECT_NAMES, DEFECTS } from './chaos/defects.js';
import { deckFor, FAULT_KINDS, faultSequence, inject, NODE_FAULT_KINDS, NODES_DECK, type ChaosContext, type FaultKind, type Injection } from './chaos/faults.js';
import { AnnouncedChanges, unrecordedChanges } from './chaos/announced.js';
import { DEFAULT_STREAM, MessageStream, streamSummary, type StreamReport } from './chaos/messages.js';
import { killWindows, missingEvidence, reportedEvidence } from './chaos/evidence.js';
import { notificationViolations, pendingWebhooks, qrAskedSince, recordedStatuses, rowViolations, webhookViolations } from './chaos/invariants.js';
import { startProduct } from './chaos/product.js';
import { duplicateBrowsers, processViolations } from './chaos/processes.js';
import { kindTable, summarize, type FaultRecord } from './chaos/report.js';
import { judgeSupervisorMemory, type LifeSample, type SupervisorMemoryVerdict } from './chaos/supervisor-memory.js';
import type { ChaosTarget } from './chaos/target.js';
import { disturbances, Timeline } from './chaos/timeline.js';
import type { InstanceSummary } from './support/api-client.js';
import { parseOptions, requireBuiltSupervisor, runScriptMain, UsageError, wholeOption } from './support/cli.js';
import { SHORT_LOOPS } from './support/demo-run.js';

interface Options {
  nodes: number;
  leaseTtlMs: number;
  leaseRenewMs: number;
  instances: number;
  faults: number;
  seed: number;
  kinds: FaultKind[];
  gapMs: [number, number];
  boundMs: number;
  workerStopMs: number;
  mysqlDownMs: [number, number];
  hostile: number;
  webhookOutageMs: number;
  sendEveryMs: [number, number];
  inboundEveryMs: [number, number];
  messageSettleMs: number;
  out: string;
  defect: string | null;
}

function options(): Options {
  const { values } = parseOptions(() => parseArgs({
    options: {
      nodes: { type: 'string', default: '1' },
      'ttl-ms': { type: 'string', default: '15000' },
      'renew-ms': { type: 'string', default: '3000' },
      instances: { type: 'string', default: '5' },
      faults: { type: 'string', default: '100' },
      seed: { type: 'string', default: '1' },
      kinds: { type: 'string' },
      'gap-s': { type: 'string', default: '2,8' },
      'bound-s': { type: 'string', default: '120' },
      'worker-stop-s': { type: 'string', default: '20' },
      'mysql-down-s': { type: 'string', default: '10,40' },
      hostile: { type: 'string', default: '200' },
      'webhook-outage-s': { type: 'string', default: '60' },
      'send-every-s': { type: 'string', default: DEFAULT_STREAM.sendEveryMs.map((ms) => ms / 1000).join(',') },
      'inbound-every-s': { type: 'string', default: DEFAULT_STREAM.inboundEveryMs.map((ms) => ms / 1000).join(',') },
      'message-settle-s': { type: 'string', default: '300' },
      out: { type: 'string' },
      defect: { type: 'string' },
    },
    strict: true,
  }));
  const range = (name: string, text: string, min: number): [number, number] => {
    const parts = text.split(',').map((t) => wholeOption(name, t.trim(), min));
    if (parts.length !== 2 || parts[0]! > parts[1]!) throw new UsageError(`--${name} must be MIN,MAX with MIN <= MAX, got ${text}`);
    return [parts[0]!, parts[1]!];
  };
  const nodes = wholeOption('nodes', values.nodes, 1);
  const deck = deckFor(nodes);
  const kinds = (values.kinds ?? deck.join(',')).split(',').map((k) => k.trim());
  const unknown = kinds.filter((k) => !deck.includes(k as FaultKind));
  if (unknown.length > 0 || kinds.length === 0) throw new UsageError(`--kinds: not in the deck of ${nodes} node(s): ${unknown.join(', ')}; known: ${deck.join(', ')}`);
  const seed = wholeOption('seed', values.seed, 0);
  if (values.defect !== undefined && !DEFECT_NAMES.includes(values.defect)) throw new UsageError(`--defect: unknown ${values.defect}; known: ${DEFECT_NAMES.join(', ')}`);
  if (values.defect !== undefined && DEFECTS[values.defect]!.nodes && nodes < 2) throw new UsageError(`--defect ${values.defect} shows only with several nodes: add --nodes 3`);
  const leaseTtlMs = wholeOption('ttl-ms', values['ttl-ms'], 3_000);
  const leaseRenewMs = wholeOption('renew-ms', values['renew-ms'], 200);
  if (leaseRenewMs * 3 > leaseTtlMs) throw new UsageError('--renew-ms must be at most --ttl-ms / 3 (the product refuses more)');
  const s = (ms: number) => ms * 1000;
  const [gapMin, gapMax] = range('gap-s', values['gap-s'], 0);
  const [downMin, downMax] = range('mysql-down-s', values['mysql-down-s'], 1);
  const [sendMin, sendMax] = range('send-every-s', values['send-every-s'], 1);
  const [inboundMin, inboundMax] = range('inbound-every-s', values['inbound-every-s'], 1);
  return {
    nodes,
    leaseTtlMs,
    leaseRenewMs,
    instances: wholeOption('instances', values.instances, 1),
    faults: wholeOption('faults', values.faults, 0),
    seed,
    kinds: kinds as FaultKind[],
    gapMs: [s(gapMin), s(gapMax)],
    boundMs: s(wholeOption('bound-s', values['bound-s'], 10)),
    workerStopMs: s(wholeOption('worker-stop-s', values['worker-stop-s'], 1)),
    mysqlDownMs: [s(downMin), s(downMax)],
    hostile: wholeOption('hostile', values.hostile, 1),
    webhookOutageMs: s(wholeOption('webhook-outage-s', values['webhook-outage-s'], 1)),
    sendEveryMs: [s(sendMin), s(sendMax)],
    inboundEveryMs: [s(inboundMin), s(inboundMax)],
    messageSettleMs: s(wholeOption('message-settle-s', values['message-settle-s'], 10)),
    out: resolve(values.out ?? join('data', 'chaos', `seed${seed}-${new Date().toISOString().replace(/[:.]/g, '-')}`)),
    defect: values.defect ?? null,
  };
}

const SHUTDOWN_TIMEOUT_MS = 25_000;
const chaosSettings = (webhookUrl: string): Record<string, string> => ({
  ...SHORT_LOOPS,
  // An idle instance takes about 200 MiB: the memory_growth fault passes this within seconds.
  INSTANCE_MEMORY_CAP_MB: '400',
  SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
  NOTIFICATION_WEBHOOK_URL: webhookUrl,
  // Retries that outlast a one-minute receiver outage: 1, 2, 4 … 2048 s.
  WEBHOOK_BASE_DELAY_MS: '1000',
  WEBHOOK_MAX_ATTEMPTS: '12',
  WEBHOOK_TIMEOUT_MS: '5000',
  // The hostile burst comes "through" a proxy on loopback, so its address is not the harness's.
  TRUSTED_PROXIES: '127.0.0.1',
});

/** Re-runs a check until it finds nothing or `withinMs` is over; returns its last findings. */
async function eventually(check: () => Promise<string[]> | string[], withinMs: number): Promise<string[]> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const found = await Promise.resolve()
      .then(check)
      .catch((err: unknown) => [`check failed: ${describeError(err)}`]);
    if (found.length === 0 || Date.now() > deadline) return found;
    await sleep(1_000);
  }
}

async function main(): Promise<number> {
  const startedAt = Date.now();
  const opts = options();
  requireBuiltSupervisor();
  const random = seededRandom(opts.seed);
  const ids = Array.from({ length: opts.instances }, (_, i) => `chaos-${i + 1}`);
  progress(machineFacts(CHROME_PATH, chromiumProcessCount()));
  const several = opts.nodes > 1;
  const lease = { leaseTtlMs: opts.leaseTtlMs, leaseRenewMs: opts.leaseRenewMs };
  progress(
    `chaos: ${several ? `${opts.nodes} nodes (LEASE_TTL_MS ${lease.leaseTtlMs}, LEASE_RENEW_MS ${lease.leaseRenewMs}), ` : ''}${opts.instances} instances, ${opts.faults} faults, seed ${opts.seed}; settle bound ${opts.boundMs / 1000} s; report in ${opts.out}`,
  );
  const load = new LoadWatch();
  const receiver = await startReceiver(() => 200);
  let product: Awaited<ReturnType<typeof startProduct>> | undefined;
  let pool: Pool | undefined;
  let sampler: ClusterSampler | undefined;
  let timeline: Timeline | undefined;
  let announced: Array<{ node: string | null; changes: AnnouncedChanges }> = [];
  let stream: MessageStream | undefined;
  let messages: StreamReport | undefined;
  /** Evidence behind each invariant: how many observations it was judged on (none is a failure). */
  const evidence = {
    outageSamples: 0,
    stopsNoticed: 0,
    refusedDeliveries: 0,
    announcedChecked: 0,
    notificationsCompared: 0,
    processScans: 0,
    sendsAccepted: 0,
    sendsOnPage: 0,
    inboundAccepted: 0,
    inboundReceived: 0,
    /** Webhook repeats a supervisor SIGKILL explains (at least once: counted, not a violation). */
    webhookRepeatsAfterKill: 0,
    /** Several nodes: samples of every node's rows and browsers, and the browsers seen in them (never two for one instance). */
    clusterSamples: 0,
    clusterBrowsersSeen: 0,
    /** Several nodes: instances the node faults moved, and the thaws after which the stopped node's writes and browsers were checked. */
    instancesMoved: 0,
    thawsChecked: 0,
    /** Several nodes: node.down and instance.moved notifications the receiver took. */
    nodeDownNotified: 0,
    movedNotified: 0,
  };
  const records: FaultRecord[] = [];
  const finalViolations: string[] = [];
  let stopRequested = false;
  const onSignal = () => {
    stopRequested = true;
    progress('stopping after this fault (signal received)');
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const supervisorMemory: LifeSample[] = [];
  let memoryVerdict: SupervisorMemoryVerdict | undefined;
  try {
    progress(several ? `starting MariaDB and ${opts.nodes} nodes` : 'starting MariaDB and the supervisor');
    const entry = opts.defect === null ? undefined : buildDefective(opts.defect);
    if (opts.defect !== null) progress(`running a deliberately broken supervisor: defect ${opts.defect}, to be caught by "${DEFECTS[opts.defect]!.caughtBy}"`);
    product = await startProduct({ nodes: opts.nodes, outDir: opts.out, settings: chaosSettings(receiver.url), chromePath: CHROME_PATH, entry, lease }, progress);
    const { target } = product;
    pool = createPool({ url: product.mysqlUrl, size: several ? 4 : 2 });
    const db = pool;
    progress(`linking ${ids.length} instances through the demo scan`);
    await product.link(ids, pool);
    if (product.cluster) {
      sampler = new ClusterSampler(pool, product.cluster.run.dir, lease);
      sampler.start();
    }
    timeline = new Timeline(() => target.fleet());
    timeline.start();
    announced = product.eventSources.map((source) => ({ node: source.node, changes: new AnnouncedChanges(source.api) }));
    announced.forEach((a) => a.changes.start());
    const key = target.api().key;
    stream = new MessageStream(() => target.api().base, key, ids, { ...DEFAULT_STREAM, seed: opts.seed, sendEveryMs: opts.sendEveryMs, inboundEveryMs: opts.inboundEveryMs, quietBefore: several ? [...NODE_FAULT_KINDS, 'unpaired'] : [] }, (waIds) => inboundRecorded(db, waIds));
    stream.start();
    const pace = (ms: readonly number[]) => ms.map((v) => v / 1000).join('-');
    progress(`message stream: per instance a send every ${pace(opts.sendEveryMs)} s and an inbound message every ${pace(opts.inboundEveryMs)} s`);
    const messageStream = stream;
    const ctx: ChaosContext = {
      target,
      single: product.single,
      nodes:
        product.cluster && sampler
          ? { ...product.cluster, sampler, pool, settings: { ...lease, moveBoundMs: opts.boundMs }, hit: () => messageStream.resume() }
          : undefined,
      receiver,
      random,
      progress,
      webhookOutageUntil: 0,
      beforeHit: (kind, target) => messageStream.beforeHit(kind, target),
      options: { workerStopMs: opts.workerStopMs, mysqlDownMs: opts.mysqlDownMs, hostileRequests: opts.hostile, webhookOutageMs: opts.webhookOutageMs, shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS },
    };
    let lastEventId = (await qrAskedSince(pool, 0)).lastEventId;
    // One supervisor's memory is judged; nodes restart and carry different loads by design.
    const single = product.single;
    const sampleSupervisor = () => {
      const usage = single?.supervisor.pid ? readMemory(single.supervisor.pid) : null;
      if (usage) supervisorMemory.push({ t: Date.now(), v: usage.pssBytes, life: single!.supervisor.starts });
    };
    sampleSupervisor();

    const sequence = faultSequence(random, opts.kinds, opts.faults);
    for (let index = 1; index <= opts.faults && !stopRequested; index++) {
      await sleep(between(random, opts.gapMs[0], opts.gapMs[1]));
      const kind = sequence[index - 1]!;
      const before = new Map((await target.instances()).map((i) => [i.id, i]));
      let injection: Injection;
      try {
        injection = await inject(ctx, kind);
      } catch (err) {
        stream.resume();
        records.push({ index, kind, target: null, at: new Date().toISOString(), detectionMs: null, connectedMs: null, settled: false, violations: [`could not inject: ${describeError(err)}`], notes: [] });
        progress(`[${index}/${opts.faults}] ${kind}: could not inject: ${describeError(err)}`);
        continue;
      }
      stream.resume();
      if (injection.node) evidence.instancesMoved += injection.node.moved;
      if (kind === 'node_sigstop') evidence.thawsChecked++;
      const settled = await settle(target, ids, injection, opts.boundMs);
      evidence.processScans += settled.processScans;
      const violations = [...injection.violations, ...settled.processViolations];
      if (!settled.ok) violations.push(`not settled within ${opts.boundMs / 1000} s: ${settled.detail}`);
      await timeline.reach(settled.at ?? Date.now());
      if (kind === 'mysql_stop') violations.push(...outageViolations(timeline, ids, before, injection, settled.at ?? Date.now(), evidence));
      if (kind === 'worker_sigstop') {
        // Noticed while it was stopped (unwell, off CONNECTED, or replaced), not merely fine again after SIGCONT.
        const noticed = timeline.detectedAt(injection.target!, injection.at, injection.pidBefore);
        if (noticed === null || noticed > injection.at + opts.workerStopMs + 1_000) violations.push(`a ${opts.workerStopMs / 1000} s hang of ${injection.target} was never noticed while it lasted`);
        else evidence.stopsNoticed++;
      }
      violations.push(...(await checkInvariants(target, pool, ids)));
      const qr = await qrAskedSince(pool, lastEventId).catch(() => null);
      if (qr) {
        lastEventId = qr.lastEventId;
        const unexpected = [...qr.asked].filter((id) => !(injection.settle === 'relink' && id === injection.target));
        if (unexpected.length > 0) violations.push(`asked for a new QR without being unpaired: ${unexpected.join(', ')}`);
      } else violations.push('could not read the events for the QR check');
      sampleSupervisor();
      const record = measure(index, injection, timeline, settled.at, violations);
      records.push(record);
      const status = violations.length === 0 ? 'ok' : `${violations.length} VIOLATION(S): ${violations.join('; ')}`;
      const times = `detection ${record.detectionMs ?? '–'} ms, CONNECTED ${record.connectedMs ?? '–'} ms`;
      progress(`[${index}/${opts.faults}] ${kind}${injection.target ? ` on ${injection.target}` : ''}: ${times}; ${injection.notes.join(', ')}${injection.notes.length ? '; ' : ''}${status}`);
    }

    progress('final checks: stopping the message stream; waiting for the webhook receiver to recover, the messages to settle and the queue to drain');
    await stream.stop();
    while (Date.now() < ctx.webhookOutageUntil) await sleep(1_000);
    await stream.settle(receiver, opts.messageSettleMs);
    const drainDeadline = Date.now() + 300_000;
    while ((await pendingWebhooks(pool).catch(() => 1)) > 0 && Date.now() < drainDeadline) await sleep(2_000);
    finalViolations.push(...(await checkInvariants(target, pool, ids)));
    const webhooks = await webhookViolations(pool, receiver, product.webhookSecret, killWindows(records));
    finalViolations.push(...webhooks.violations);
    evidence.webhookRepeatsAfterKill = webhooks.repeatsAfterKill;
    for (const a of announced) {
      await a.changes.stop();
      const recorded = unrecordedChanges(a.changes.changes, await recordedStatuses(pool, a.node ?? undefined));
      evidence.announcedChecked += recorded.checked;
      finalViolations.push(...recorded.violations.map((v) => (a.node ? `${a.node}'s event stream: ${v}` : v)));
    }
    evidence.refusedDeliveries = receiver.received.filter((d) => d.status === 503).length;
    const notified = await notificationViolations(pool, receiver.url);
    evidence.notificationsCompared = notified.compared;
    finalViolations.push(...notified.violations);
    const judged = await stream.verdict(receiver);
    messages = judged.report;
    evidence.sendsAccepted = messages.sends.accepted;
    evidence.sendsOnPage = messages.sends.onPage;
    evidence.inboundAccepted = messages.inbound.accepted;
    evidence.inboundReceived = messages.inbound.received;
    finalViolations.push(...judged.violations);
    if (sampler) {
      sampler.stop();
      const { judge } = sampler;
      evidence.clusterSamples = judge.evidence.samples;
      evidence.clusterBrowsersSeen = judge.evidence.browsersSeen;
      finalViolations.push(...judge.violations);
      const notified = receiver.accepted().map((d) => (JSON.parse(d.body) as { event?: string }).event);
      evidence.nodeDownNotified = notified.filter((e) => e === 'node.down').length;
      evidence.movedNotified = notified.filter((e) => e === 'instance.moved').length;
    }
    finalViolations.push(...missingEvidence(records, evidence, several));
    if (!several) {
      memoryVerdict = judgeSupervisorMemory(supervisorMemory);
      finalViolations.push(...memoryVerdict.violations);
    }
  } finally {
    await stream?.stop(true);
    for (const a of announced) await a.changes.stop();
    await timeline?.stop();
    sampler?.stop();
    await pool?.end().catch(() => undefined);
    if (product) {
      progress(several ? 'stopping the nodes and MariaDB' : 'stopping the supervisor and MariaDB');
      finalViolations.push(...(await product.close()));
    }
    await receiver.close();
  }

  const summaries = summarize(records, several ? NODES_DECK : FAULT_KINDS);
  const faultViolations = records.reduce((n, r) => n + r.violations.length, 0);
  const loadSummary = load.summary();
  const report = {
    command: `npm run chaos -- ${process.argv.slice(2).join(' ')}`.trim(),
    commit: currentCommit(),
    startedAt: new Date(startedAt).toISOString(),
    durationMin: Math.round((Date.now() - startedAt) / 6_000) / 10,
    machine: machineFacts(CHROME_PATH, 0),
    load: loadSummary,
    options: { ...opts, settleBoundNote: 'every enabled, linked instance CONNECTED within bound after the fault ends' },
    summaries,
    faults: records,
    finalViolations,
    supervisorPssSamples: supervisorMemory,
    supervisorPssVerdict: memoryVerdict ?? null,
    webhooks: { received: receiver.received.length, accepted: receiver.accepted().length },
    messages: messages ?? null,
    evidence: reportedEvidence(evidence, several),
    slowestApiAnswerMs: timeline?.slowestAnswerMs ?? null,
    violations: faultViolations + finalViolations.length,
  };
  writeFileSync(join(opts.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\n${kindTable(summaries, finalViolations.length)}\n\n`);
  for (const v of finalViolations) process.stdout.write(`end-of-run violation: ${v}\n`);
  if (memoryVerdict) {
    const mib = (b: number | null) => (b === null ? '–' : (b / 1024 ** 2).toFixed(0));
    const life = memoryVerdict.longestLife;
    const lifeText = life ? `; longest life ${life.slopeMiBPerHour.toFixed(1)} ± ${life.spreadMiBPerHour.toFixed(1)} MiB/h` : '; no life long enough to judge on its own';
    process.stdout.write(`supervisor PSS peak: ${mib(memoryVerdict.firstThirdMaxBytes)} MiB in the first third of the run, ${mib(memoryVerdict.lastThirdMaxBytes)} MiB in the last${lifeText}\n`);
    process.stdout.write(`${memoryVerdict.summary}\n`);
  }
  process.stdout.write(
    `evidence: ${evidence.outageSamples} samples during database outages, ${evidence.stopsNoticed} worker stops noticed, ${evidence.refusedDeliveries} deliveries refused by the receiver, ` +
      `${evidence.announcedChecked} announced status changes checked against the recorded events, ${evidence.notificationsCompared} recorded changes compared with their notifications, ` +
      `${evidence.processScans} process scans while settling, ${evidence.sendsAccepted} accepted sends judged against the page records (${evidence.sendsOnPage} on the page), ` +
      `${evidence.inboundAccepted} accepted inbound messages judged against the receiver (${evidence.inboundReceived} received), ` +
      `${evidence.webhookRepeatsAfterKill} webhook repeats after a ${several ? 'node kill, cut or stop' : 'supervisor kill'}\n`,
  );
  if (several) {
    process.stdout.write(
      `nodes: ${evidence.clusterSamples} cluster samples every 200 ms (${evidence.clusterBrowsersSeen} browser observations; ${sampler?.judge.evidence.maxUnownedMs ?? '–'} ms longest unowned), ` +
        `${evidence.instancesMoved} instances moved by node faults, ${evidence.thawsChecked} thaws checked, ${evidence.nodeDownNotified} node.down and ${evidence.movedNotified} instance.moved notifications received; supervisor memory not judged with several nodes\n`,
    );
  }
  if (messages) process.stdout.write(`${streamSummary(messages)}\n`);
  process.stdout.write(`slowest GET /api/instances during the run: ${report.slowestApiAnswerMs ?? '–'} ms; webhooks: ${report.webhooks.accepted} accepted of ${report.webhooks.received} received\n`);
  process.stdout.write(`${records.length} faults, ${report.violations} invariant violations; ${loadSummary}; report: ${join(opts.out, 'report.json')}\n`);
  return report.violations === 0 && records.length === opts.faults ? 0 : 1;
}

interface Settled {
  ok: boolean;
  at: number | null;
  detail: string;
  /** Two browsers on one profile seen while settling (recovery is when that could happen). */
  processViolations: string[];
  processScans: number;
}

/** Waits for the fleet to be whole again after `injection`; scans the QR of an unpaired target, as its owner would. */
async function settle(fleet: ChaosTarget, ids: readonly string[], injection: Injection, boundMs: number): Promise<Settled> {
  const deadline = Date.now() + boundMs;
  let scanned = false;
  let last: InstanceSummary[] = [];
  const duplicates = new Set<string>();
  let processScans = 0;
  for (;;) {
    duplicateBrowsers(fleet.processes()).forEach((d) => duplicates.add(d));
    processScans++;
    last = (await fleet.instances().catch(() => null)) ?? last;
    const byId = new Map(last.map((i) => [i.id, i]));
    const target = injection.target ? byId.get(injection.target) : undefined;
    if (injection.settle === 'relink' && target?.connectionStatus === 'QR_REQUIRED' && !scanned) {
      scanned = await fleet.api().demo(target.id, 'scan').then(() => true, () => false);
    }
    const targetOk =
      !target ||
      (target.connectionStatus === 'CONNECTED' &&
        (injection.settle === 'new_worker' ? target.worker?.pid !== injection.pidBefore : injection.settle === 'healthy' ? target.health === 'healthy' : injection.settle === 'relink' ? scanned : true));
    const allOk = ids.every((id) => byId.get(id)?.connectionStatus === 'CONNECTED' && byId.get(id)?.worker);
    const found = { processViolations: [...duplicates].map((d) => `while settling: ${d}`), processScans };
    if (targetOk && allOk) return { ok: true, at: Date.now(), detail: '', ...found };
    if (Date.now() > deadline) {
      return { ok: false, at: null, detail: ids.map((id) => `${id}=${byId.get(id)?.connectionStatus ?? '?'}/${byId.get(id)?.health ?? '?'}`).join(' '), ...found };
    }
    await sleep(250);
  }
}

/**
 * A database outage must disturb no session: from the stop until the fleet settled, every sample
 * of every instance CONNECTED on the worker and browser it had before. The window must hold
 * samples the supervisor answered while it saw its database down, or nothing was observed.
 */
function outageViolations(timeline: Timeline, ids: readonly string[], before: Map<string, InstanceSummary>, injection: Injection, until: number, evidence: { outageSamples: number }): string[] {
  const violations: string[] = [];
  let down = 0;
  for (const id of ids) {
    const samples = timeline.between(id, injection.at, until);
    down += samples.filter((o) => o.database === 'down').length;
    const was = before.get(id);
    const found = disturbances(samples, { workerPid: was?.worker?.pid ?? null, browserPid: was?.worker?.browserPid ?? null });
    if (found.length > 0) violations.push(`${id} disturbed by the database outage: ${found.join(', ')}`);
  }
  evidence.outageSamples += down;
  if (down < ids.length) violations.push(`the outage was not observed: ${down} samples with the database down`);
  return violations;
}

/** Of these WhatsApp ids of inbound messages, those the product has recorded (their message.received is in the outbox). */
async function inboundRecorded(pool: Pool, waIds: string[]): Promise<Set<string>> {
  if (waIds.length === 0) return new Set();
  const [rows] = await pool.query<RowDataPacket[]>("SELECT JSON_VALUE(payload, '$.id') AS id FROM webhook_outbox WHERE event = 'message.received' AND JSON_VALUE(payload, '$.id') IN (?)", [waIds]);
  return new Set(rows.map((r) => String(r.id)));
}

async function checkInvariants(target: ChaosTarget, pool: Pool, ids: readonly string[]): Promise<string[]> {
  const rows = await eventually(async () => rowViolations(pool, ids, await target.instances()), 20_000);
  const processes = await eventually(
    async () => (target.up() ? processViolations(target.processes(), await target.instances(), await target.spares()) : processViolations(target.processes(), null)),
    10_000,
  );
  return [...rows, ...processes];
}

function measure(index: number, injection: Injection, timeline: Timeline, settledAt: number | null, violations: string[]): FaultRecord {
  const { kind, target, at, pidBefore } = injection;
  let detectionMs: number | null = null;
  let connectedMs: number | null = null;
  if (target) {
    const detected = timeline.detectedAt(target, at, pidBefore);
    detectionMs = detected === null ? null : detected - at;
    const back = detected === null ? null : timeline.connectedAt(target, detected, injection.settle === 'new_worker' ? pidBefore : null);
    connectedMs = back === null ? null : back - at;
  } else if (kind === 'supervisor_sigkill' || kind === 'supervisor_sigterm' || NODE_FAULT_KINDS.includes(kind)) {
    connectedMs = settledAt === null ? null : settledAt - at;
  }
  const trace = target ? timeline.changes(target, at - 1_000, settledAt ?? Date.now()) : undefined;
  return { index, kind, target, at: new Date(at).toISOString(), detectionMs, connectedMs, settled: settledAt !== null, violations, notes: injection.notes, ...(trace ? { trace } : {}) };
}

/** The commit dist/ was built from (dist/src/build-info.json, written by npm run build). */
function currentCommit(): string {
  try {
    return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'dist', 'src', 'build-info.json'), 'utf8')) as { commit: string }).commit;
  } catch {
    return 'unknown';
  }
}

runScriptMain('chaos', main);
