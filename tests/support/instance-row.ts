import { ConnectionStatus, Health, type Instance } from '../../src/domain/instance.js';

/** The instant every test row was created at, unless a test says otherwise. */
export const ROW_T0 = new Date('2026-01-15T10:00:00.000Z');

/** An instance row as the database would hand it over: enabled, DISCONNECTED, never linked. */
export function instanceRow(overrides: Partial<Instance> = {}): Instance {
  return {
    id: 'sales-01',
    enabled: true,
    connectionStatus: ConnectionStatus.DISCONNECTED,
    statusReason: null,
    statusChangedAt: ROW_T0,
    health: Health.DISCONNECTED,
    healthReason: null,
    reconnectAttempts: 0,
    lastConnectedAt: null,
    lastError: null,
    wid: null,
    pushName: null,
    webhookUrl: null,
    pairingCodeAttempts: 0,
    node: null,
    createdAt: ROW_T0,
    updatedAt: ROW_T0,
    ...overrides,
  };
}
