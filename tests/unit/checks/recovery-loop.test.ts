import { describe, expect, it } from 'vitest';
import { dueForStart } from '../../../src/checks/recovery-loop.js';
import type { ConnectionStatus } from '../../../src/domain/instance.js';
import type { InstanceLive } from '../../../src/supervisor/instance/handle.js';

const NOW = 1_700_000_000_000;

function handle(over: Partial<InstanceLive> = {}, hasWorker = false): { hasWorker: boolean; live: InstanceLive } {
  const live: InstanceLive = {
    status: 'DISCONNECTED',
    reason: 'worker_exit',
    statusChangedAt: new Date(NOW - 60_000),
    health: 'disconnected',
    healthReason: null,
    lastError: null,
    workerPid: null,
    browserPid: null,
    startedAt: null,
    reconnectAttempts: 0,
    nextReconnectAt: null,
    bootQueued: false,
    handlingCrash: false,
    admission: null,
    blockedBy: null,
    qr: null,
    wid: null,
    pushName: null,
    recentErrors: [],
    ...over,
  };
  return { hasWorker, live };
}

describe('dueForStart', () => {
  it('starts an enabled instance with no worker and nothing pending', () => {
    expect(dueForStart(handle(), true, NOW)).toBe(true);
    expect(dueForStart(handle({ status: 'RECONNECTING' as ConnectionStatus, nextReconnectAt: new Date(NOW - 1) }), true, NOW)).toBe(true);
  });

  it.each<[string, ReturnType<typeof handle>, boolean]>([
    ['disabled', handle(), false],
    ['a worker already running or starting', handle({}, true), true],
    ['blocked by a no-reconnect reason', handle({ blockedBy: 'LOGOUT' }), true],
    ['waiting out its reconnect backoff', handle({ status: 'RECONNECTING', nextReconnectAt: new Date(NOW + 5_000) }), true],
    // Found by the chaos run: the recovery loop started instances still queued for their boot start.
    ['waiting for its turn in the boot queue', handle({ status: 'RECONNECTING', reason: 'rehydrate', bootQueued: true }), true],
    // Its pending start holds the worker slot: the gate will launch it, not the recovery loop.
    ['waiting at the start gate', handle({ admission: { waiting: true, reason: 'fleet memory 1.9 GiB + 200 MiB expected > cap 2.0 GiB', wait: 'memory', since: new Date(NOW - 5_000), position: 1 } }, true), true],
    // Found by the nodes chaos run: started between its crash's DISCONNECTED and its scheduled reconnect, it stuck in RECONNECTING.
    ['handling its own crash (its reconnect not scheduled yet)', handle({ handlingCrash: true }), true],
    ['idling in QR_REQUIRED after a QR wait', handle({ status: 'QR_REQUIRED', reason: 'qr_timeout' }), true],
  ])('leaves alone an instance %s', (_name, h, enabled) => {
    expect(dueForStart(h, enabled, NOW)).toBe(false);
  });
});
