import { fileURLToPath } from 'node:url';
import { checkSettings, type CheckSettings } from '../../src/checks/settings.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import type { WorkerLauncher } from '../../src/supervisor/instance/handle.js';
import { WorkerHandle } from '../../src/worker/handle.js';
import type { WorkerInit } from '../../src/worker/protocol.js';
import type { ConnectionStatus } from '../../src/domain/instance.js';
import type { ConnectionUpdateEvent } from '../../src/supervisor/event-bus.js';
import type { Fleet } from '../../src/supervisor/fleet.js';
import { sleep } from '../../lib/timeout.js';

/** Settings for a fleet under test: demo mode, short delays, the given database and session root. */
export function testConfig(mysqlUrl: string, sessionRoot: string, overrides: Record<string, string> = {}): Config {
  return loadConfig({
    API_KEY: 'test-key-0123456789abcdef',
    MYSQL_URL: mysqlUrl,
    SESSION_STORAGE_PATH: sessionRoot,
    CACHE_PATH: `${sessionRoot}/../cache`,
    CHROME_PATH: process.env.CHROME_PATH ?? '/usr/bin/chromium',
    WA_FLEET_FAKE_WEB: 'true',
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    REHYDRATE_STAGGER_MS: '100',
    RECONNECT_BASE_DELAY_MS: '100',
    RECONNECT_JITTER_MS: '100',
    WORKER_STOP_TIMEOUT_MS: '5000',
    WORKER_START_TIMEOUT_MS: '30000',
    WEB_LOAD_TIMEOUT_MS: '15000',
    ...overrides,
  });
}

/** The check settings of `config` with every loop a minute apart: within a test none ticks on its own, the test runs them (`runNow`). */
export function quietCheckSettings(config: Config): CheckSettings {
  const minute = 60_000;
  return { ...checkSettings(config), healthIntervalMs: minute, deepIntervalMs: minute, recoveryIntervalMs: minute, memoryIntervalMs: minute, memorySampleIntervalMs: minute };
}

/** Polls the fleet's live view until the instance has `status`. */
export async function waitForStatus(fleet: Fleet, id: string, status: ConnectionStatus, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (fleet.handle(id).live.status !== status) {
    if (Date.now() > deadline) {
      const live = fleet.handle(id).live;
      throw new Error(`${id} is ${live.status} (${live.reason}), not ${status}, after ${timeoutMs} ms`);
    }
    await sleep(50);
  }
}

/**
 * A short settle after linking before tests kill anything. The fake keeps its pairing in
 * IndexedDB, committed per transaction like real WhatsApp Web's keys, so it survives a SIGKILL
 * right after `ready`; the pause only lets the page finish its post-link work.
 */
export const SESSION_PERSIST_MS = 500;

/** Creates an instance and links it through the fake WhatsApp Web's scan; resolves when CONNECTED and persisted. */
export async function createLinked(fleet: Fleet, id: string): Promise<void> {
  await fleet.create(id);
  await waitForStatus(fleet, id, 'QR_REQUIRED');
  await fleet.simulate(id, 'scan');
  await waitForStatus(fleet, id, 'CONNECTED');
  await sleep(SESSION_PERSIST_MS);
}

const STAND_IN = fileURLToPath(new URL('./fixtures/stand-in-worker.ts', import.meta.url));

/** Starts stand-in workers (same protocol, no browser) instead of real ones. */
export const standInLauncher: WorkerLauncher = (instanceId, listener) =>
  WorkerHandle.start({ init: { instanceId } as WorkerInit, startTimeoutMs: 15_000, ...listener, entry: STAND_IN });

/**
 * Resolves on the next `connection.update` of the instance to `status`. Subscribe before causing
 * the change: a transient status (DISCONNECTED on the way to RECONNECTING) is too brief to poll.
 */
export function nextUpdate(fleet: Fleet, id: string, status: ConnectionStatus, timeoutMs = 30_000): Promise<ConnectionUpdateEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${id} did not become ${status} within ${timeoutMs} ms (is ${fleet.handle(id).live.status})`));
    }, timeoutMs);
    const off = fleet.events.on('connection.update', (e) => {
      if (e.instanceId !== id || e.status !== status) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}
