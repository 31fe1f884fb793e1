import type { Instance, InstanceEvent } from '../domain/instance.js';
import type { InstanceHandle } from '../supervisor/instance-handle.js';

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** The JSON form of an instance: its row with the live view laid over it (camelCase, no secrets). */
export function instanceView(row: Instance, handle: InstanceHandle | undefined, now = Date.now()) {
  const live = handle?.live;
  return {
    id: row.id,
    enabled: row.enabled,
    connectionStatus: live?.status ?? row.connectionStatus,
    statusReason: live ? live.reason : row.statusReason,
    statusChangedAt: iso(live?.statusChangedAt ?? row.statusChangedAt),
    health: handle?.health ?? row.health,
    healthReason: handle?.healthReason ?? row.healthReason,
    reconnectAttempts: live?.reconnectAttempts ?? row.reconnectAttempts,
    nextReconnectAt: iso(live?.nextReconnectAt),
    waitingForHuman: live?.blockedBy ?? null,
    phone: { wid: live?.wid ?? row.wid, pushName: live?.pushName ?? row.pushName },
    webhookUrl: row.webhookUrl,
    worker: live?.workerPid
      ? { pid: live.workerPid, browserPid: live.browserPid, uptimeMs: live.startedAt ? now - live.startedAt.getTime() : null }
      : null,
    lastConnectedAt: iso(row.lastConnectedAt),
    lastError: row.lastError,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

export function eventView(e: InstanceEvent) {
  return { ...e, occurredAt: e.occurredAt.toISOString() };
}
