import { loadConfig, type Config } from '../../src/config/index.js';
import { createLogger, secretValues } from '../../src/index.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import type { TestDatabase } from './db.js';
import { waitFor, type Receiver } from './webhook-receiver.js';
import { tempSessionRoot } from './workers.js';

/*
 * A whole supervisor (the composition root: fleet, sender, webhooks, API) on real workers and the
 * fake WhatsApp Web, for the message tests: they judge the product by the page's own record of
 * what reached "WhatsApp" and by what the webhook receiver took in, never by the supervisor's belief.
 */

export const KEY = 'messages-key-0123456789abcdef';

export interface MessagingSupervisor {
  supervisor: Supervisor;
  config: Config;
  base: string;
  call: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; json: any }>;
}

export async function startMessagingSupervisor(db: TestDatabase, receiver: Receiver, overrides: Record<string, string> = {}): Promise<MessagingSupervisor> {
  const sessionRoot = tempSessionRoot();
  const config = loadConfig({
    API_KEY: KEY,
    MYSQL_URL: db.url,
    SESSION_STORAGE_PATH: sessionRoot,
    CACHE_PATH: `${sessionRoot}/../cache`,
    CHROME_PATH: process.env.CHROME_PATH ?? '/usr/bin/chromium',
    WA_FLEET_FAKE_WEB: 'true',
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'error',
    NOTIFICATION_WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET: 'messages-webhook-secret-0123456789',
    WEBHOOK_BASE_DELAY_MS: '200',
    RECONNECT_BASE_DELAY_MS: '100',
    RECONNECT_JITTER_MS: '100',
    REHYDRATE_STAGGER_MS: '100',
    WORKER_STOP_TIMEOUT_MS: '5000',
    WEB_LOAD_TIMEOUT_MS: '15000',
    SEND_MIN_INTERVAL_MS: '0',
    SEND_JITTER_MS: '0',
    SEND_MAX_PER_MINUTE: '0',
    SEND_TIMEOUT_MS: '5000',
    ...overrides,
  });
  const log = createLogger({ level: 'error', format: 'json', secrets: secretValues(config) });
  const supervisor = new Supervisor({ config, log });
  await supervisor.start();
  const base = `http://127.0.0.1:${supervisor.address!.port}`;
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'x-api-key': KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: res.status, json };
  };
  return { supervisor, config, base, call };
}

/** Creates an instance through the API and links it with the demo scan; resolves once CONNECTED. */
export async function linkThroughApi(s: MessagingSupervisor, id: string): Promise<void> {
  const created = await s.call('POST', '/api/instances', { id });
  if (created.status !== 201) throw new Error(`create ${id}: ${created.status} ${JSON.stringify(created.json)}`);
  await waitFor(() => s.supervisor.fleet.handle(id).live.status === 'QR_REQUIRED', `${id} showing a QR`, 30_000);
  const scan = await s.call('POST', `/api/demo/${id}/scan`);
  if (scan.status !== 200) throw new Error(`scan ${id}: ${scan.status} ${JSON.stringify(scan.json)}`);
  await waitFor(() => s.supervisor.fleet.handle(id).live.status === 'CONNECTED', `${id} CONNECTED`, 30_000);
}

/** The fake page's record of what reached "WhatsApp" for the instance. */
export async function pageRecord(s: MessagingSupervisor, id: string): Promise<Array<Record<string, any>>> {
  const r = await s.call('GET', `/api/demo/${id}/sent`);
  if (r.status !== 200) throw new Error(`sent record of ${id}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.sent as Array<Record<string, any>>;
}

/** Waits until every message has left the waiting states; returns them as the API shows them. */
export async function waitSettled(s: MessagingSupervisor, id: string, messageIds: string[], timeoutMs = 60_000): Promise<Array<Record<string, any>>> {
  let last: Array<Record<string, any>> = [];
  await waitFor(
    async () => {
      last = await Promise.all(messageIds.map(async (m) => (await s.call('GET', `/api/instance/${id}/messages/${m}`)).json?.message));
      return last.every((m) => m && m.status !== 'queued' && m.status !== 'sending');
    },
    `${messageIds.length} messages of ${id} settled`,
    timeoutMs,
  );
  return last;
}

/** Webhook bodies the receiver took in, parsed, of one event name. */
export function delivered(receiver: Receiver, event: string): Array<Record<string, any>> {
  return receiver
    .accepted()
    .map((d) => JSON.parse(d.body) as Record<string, any>)
    .filter((b) => b.event === event);
}
