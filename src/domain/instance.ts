/** What an instance is doing right now; the seven values the `instances` table allows. */
export const ConnectionStatus = {
  INITIALIZING: 'INITIALIZING',
  LOADING: 'LOADING',
  QR_REQUIRED: 'QR_REQUIRED',
  CONNECTED: 'CONNECTED',
  DISCONNECTED: 'DISCONNECTED',
  RECONNECTING: 'RECONNECTING',
  AUTH_FAILURE: 'AUTH_FAILURE',
} as const;
export type ConnectionStatus = (typeof ConnectionStatus)[keyof typeof ConnectionStatus];
export const CONNECTION_STATUSES = Object.values(ConnectionStatus) as ConnectionStatus[];

/** The verdict of the checks on an instance. */
export const Health = {
  HEALTHY: 'healthy',
  DISCONNECTED: 'disconnected',
  DEGRADED: 'degraded',
  STUCK: 'stuck',
  ZOMBIE: 'zombie',
  CORRUPTED: 'corrupted',
  NOT_FOUND: 'not_found',
} as const;
export type Health = (typeof Health)[keyof typeof Health];

export type Severity = 'HIGH' | 'MEDIUM' | 'LOW';

const INSTANCE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function isInstanceId(value: unknown): value is string {
  return typeof value === 'string' && INSTANCE_ID.test(value);
}

export interface Instance {
  id: string;
  enabled: boolean;
  connectionStatus: ConnectionStatus;
  statusReason: string | null;
  statusChangedAt: Date;
  health: Health;
  healthReason: string | null;
  reconnectAttempts: number;
  lastConnectedAt: Date | null;
  lastError: string | null;
  wid: string | null;
  pushName: string | null;
  webhookUrl: string | null;
  pairingCodeAttempts: number;
  /** CLUSTER=on: the node holding a live lease on it (the database's clock decides), else null. */
  node: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One row of the audit log. */
export interface InstanceEvent {
  seq: number;
  occurredAt: Date;
  category: string;
  type: string;
  fromStatus: ConnectionStatus | null;
  toStatus: ConnectionStatus | null;
  reason: string | null;
  severity: Severity | null;
  data: Record<string, unknown> | null;
}

export type NewEvent = Omit<InstanceEvent, 'seq' | 'occurredAt' | 'fromStatus' | 'toStatus' | 'reason' | 'severity' | 'data'> &
  Partial<Pick<InstanceEvent, 'fromStatus' | 'toStatus' | 'reason' | 'severity' | 'data'>>;
