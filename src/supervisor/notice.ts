import type { Severity } from '../domain/instance.js';
import type { Notification } from '../webhooks/outbox.js';
import { SEVERITY, type FleetEventMap, type FleetEventName } from './event-bus.js';

/** A bus event that is also a webhook notification; `severity` raises the event's default. */
export type Notice = { [K in FleetEventName]: { name: K; payload: FleetEventMap[K]; severity?: Severity } }[FleetEventName];

/** The webhook form of a notice: severity from the event's default unless raised, dates as ISO strings. */
export function toNotification(notice: Notice): Notification {
  const payload = JSON.parse(JSON.stringify(notice.payload)) as Record<string, unknown>;
  return {
    event: notice.name,
    severity: notice.severity ?? SEVERITY[notice.name],
    instanceId: notice.payload.instanceId,
    payload,
    at: notice.payload.at,
  };
}
