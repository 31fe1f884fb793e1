import type { KillWindow } from './invariants.js';
import { NODE_FAULT_KINDS } from './faults.js';
import type { FaultRecord } from './report.js';

/** What each invariant of a chaos run was judged on: how many observations (none is a failure). */
export type Evidence = Record<'refusedDeliveries' | 'announcedChecked' | 'notificationsCompared' | 'processScans' | 'clusterSamples' | 'clusterBrowsersSeen' | 'instancesMoved' | 'thawsChecked' | 'nodeDownNotified' | 'movedNotified', number>;

/** Evidence of the nodes' invariants: in the report of a run of several nodes only (one supervisor's report stays as it was). */
const NODE_EVIDENCE: ReadonlySet<string> = new Set(['clusterSamples', 'clusterBrowsersSeen', 'instancesMoved', 'thawsChecked', 'nodeDownNotified', 'movedNotified']);

export function reportedEvidence<E extends object>(evidence: E, several: boolean): Partial<E> {
  return several ? evidence : (Object.fromEntries(Object.entries(evidence).filter(([k]) => !NODE_EVIDENCE.has(k))) as Partial<E>);
}

/** An invariant with nothing to judge is a failure: each fault that ran must have left its evidence. */
export function missingEvidence(records: readonly FaultRecord[], evidence: Evidence, several: boolean): string[] {
  const ran = (...kinds: string[]) => records.some((r) => kinds.includes(r.kind));
  const missing: string[] = [];
  if (ran('webhook_outage') && evidence.refusedDeliveries === 0) missing.push('webhook outage: the receiver never refused a delivery');
  if (evidence.announcedChecked === 0) missing.push('no announced status change was heard to check against the recorded events');
  if (evidence.notificationsCompared === 0) missing.push('no recorded status change to compare with the notifications');
  if (records.length > 0 && evidence.processScans === 0) missing.push('no process scan while settling');
  if (!several) return missing;
  if (evidence.clusterSamples === 0 || evidence.clusterBrowsersSeen === 0) missing.push('the cluster sampler saw no sample with a browser: never two browsers for one instance was not judged');
  if (ran(...NODE_FAULT_KINDS) && evidence.instancesMoved === 0) missing.push('node faults ran but moved no instance');
  if (ran(...NODE_FAULT_KINDS) && evidence.movedNotified === 0) missing.push('node faults ran but no instance.moved notification arrived');
  if (ran('node_sigkill', 'node_sigstop', 'node_mysql_cut') && evidence.nodeDownNotified === 0) missing.push('a node was killed, stopped or cut but no node.down notification arrived');
  if (ran('node_sigstop') && evidence.thawsChecked === 0) missing.push('no thaw of a stopped node was checked');
  return missing;
}

/**
 * When a webhook may be delivered twice by design (answered, not yet marked delivered): the
 * instant of a supervisor's SIGKILL; with several nodes, a node's SIGKILL, and the span a node was
 * stopped or cut from MySQL (it cannot mark, its claim lapses, another node delivers again).
 */
export function killWindows(records: readonly FaultRecord[]): KillWindow[] {
  return records.flatMap((r): KillWindow[] => {
    const at = Date.parse(r.at);
    if (r.kind === 'supervisor_sigkill' || r.kind === 'node_sigkill') return [at];
    if (r.kind === 'node_sigstop' || r.kind === 'node_mysql_cut') return [[at, at + (r.connectedMs ?? 0)]];
    return [];
  });
}

