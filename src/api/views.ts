import type { Instance, InstanceEvent } from '../domain/instance.js';
import type { OutboundRow } from '../db/messages-repository.js';
import type { InstanceHandle } from '../supervisor/instance/handle.js';

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** Fields only the database knows; with it away they are shown from the last read and named in `stale`. */
const ROW_ONLY_FIELDS = ['enabled', 'webhookUrl', 'lastConnectedAt', 'createdAt', 'updatedAt'] as const;

/**
 * The JSON form of an instance: its row with the live view laid over it (camelCase, no secrets).
 * `row` is the fresh row, or with `stale` set the last one read (null if none was): the live
 * fields are current either way, and `stale` names the ones that may not be.
 */
export function instanceView(row: Instance | null, handle: InstanceHandle | undefined, options: { stale?: boolean; now?: number; node?: string | null } = {}) {
  const live = handle?.live;
  const now = options.now ?? Date.now();
  return {
    id: row?.id ?? handle?.id ?? '',
    enabled: row?.enabled ?? null,
    connectionStatus: live?.status ?? row?.connectionStatus ?? null,
    statusReason: live ? live.reason : (row?.statusReason ?? null),
    statusChangedAt: iso(live?.statusChangedAt ?? row?.statusChangedAt),
    health: live?.health ?? row?.health ?? null,
    healthReason: live ? live.healthReason : (row?.healthReason ?? null),
    reconnectAttempts: live?.reconnectAttempts ?? row?.reconnectAttempts ?? 0,
    nextReconnectAt: iso(live?.nextReconnectAt),
    waitingForHuman: live?.blockedBy ?? null,
    admission: live?.admission ? { ...live.admission, since: live.admission.since.toISOString() } : null,
    phone: { wid: live?.wid ?? row?.wid ?? null, pushName: live?.pushName ?? row?.pushName ?? null },
    webhookUrl: row?.webhookUrl ?? null,
    /** The node that runs it: this one when it has a handle here, else the row's lease holder. */
    node: options.node !== undefined ? options.node : (row?.node ?? null),
    worker: live?.workerPid
      ? { pid: live.workerPid, browserPid: live.browserPid, uptimeMs: live.startedAt ? now - live.startedAt.getTime() : null }
      : null,
    lastConnectedAt: iso(row?.lastConnectedAt),
    lastError: live ? live.lastError : (row?.lastError ?? null),
    createdAt: iso(row?.createdAt),
    updatedAt: iso(row?.updatedAt),
    ...(options.stale ? { stale: [...ROW_ONLY_FIELDS] } : {}),
  };
}

export function eventView(e: InstanceEvent) {
  return { ...e, occurredAt: e.occurredAt.toISOString() };
}

/** A queued message as the API shows it (the media bytes never: only what describes them). */
export function messageView(m: OutboundRow) {
  return {
    id: m.id,
    instanceId: m.instanceId,
    chatId: m.chatId,
    type: m.kind,
    text: m.kind === 'text' ? m.body : null,
    caption: m.kind === 'media' ? m.body : null,
    replyTo: m.replyTo,
    media: m.media,
    status: m.state,
    reason: m.reason,
    attempts: m.attempts,
    waMessageId: m.waMessageId,
    idempotencyKey: m.idempotencyKey,
    createdAt: m.createdAt.toISOString(),
    sentAt: m.sentAt?.toISOString() ?? null,
    deliveredAt: m.deliveredAt?.toISOString() ?? null,
    readAt: m.readAt?.toISOString() ?? null,
    expiresAt: m.expiresAt.toISOString(),
  };
}
