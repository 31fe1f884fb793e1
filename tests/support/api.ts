import { Checks } from '../../src/checks/checks.js';
import { checkSettings } from '../../src/checks/settings.js';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/api/app.js';
import { closeServer, listen } from '../../src/api/server.js';
import type { Config } from '../../src/config/index.js';
import type { Pool } from '../../src/db/pool.js';
import { Fleet as FleetClass, type Fleet } from '../../src/supervisor/fleet.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { standInLauncher, testConfig } from './fleet.js';
import { tempSessionRoot } from './workers.js';
import { silentLogger } from './logger.js';
import { Messages } from '../../src/messages/messages.js';

export interface TestApi {
  base: string;
  key: string;
  /** fetch with the API key (unless headers say otherwise), JSON in and out. */
  call: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; json: any; res: Response }>;
  close: () => Promise<void>;
}

/** Serves the real express app on a loopback port for a fleet under test. */
export async function startTestApi(fleet: Fleet, pool: Pool, config: Config, shuttingDown = () => false): Promise<TestApi> {
  // The loops are not started: checks run on request only, as the tests drive them.
  const checks = new Checks({ fleet, log: silentLogger, settings: checkSettings(config) });
  const app = createApp({ pool, fleet, checks, config, log: silentLogger, version: 'test', startedAt: new Date(), shuttingDown, messages: new Messages({ fleet: fleet, pool: pool, config: config, log: silentLogger }) });
  const server: Server = await listen(app, '127.0.0.1', 0);
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const key = config.apiKey ?? '';
  return {
    base,
    key,
    call: async (method, path, body, headers = {}) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let json: unknown = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {
        json = text;
      }
      return { status: res.status, json, res };
    },
    close: () => closeServer(server),
  };
}

export interface StandInApi {
  db: TestDatabase;
  fleet: Fleet;
  api: TestApi;
  /** Closes the API, stops the fleet, drops the database. */
  close: () => Promise<void>;
}

/**
 * The API over a fleet of stand-in workers (no browser) on a database of its own: the setup of
 * most API integration tests. `sessionRoot` and setting overrides as the test needs.
 */
export async function startStandInApi(
  options: { overrides?: Record<string, string>; sessionRoot?: string; shuttingDown?: () => boolean } = {},
): Promise<StandInApi> {
  const db = await createTestDatabase({ migrated: true });
  const config = testConfig(db.url, options.sessionRoot ?? tempSessionRoot(), options.overrides);
  const fleet = new FleetClass({ config, pool: db.pool, log: silentLogger, launch: standInLauncher });
  await fleet.start();
  const api = await startTestApi(fleet, db.pool, config, options.shuttingDown);
  return {
    db,
    fleet,
    api,
    close: async () => {
      await api.close();
      await fleet.stop();
      await db.drop();
    },
  };
}
