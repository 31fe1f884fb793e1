import type { z } from 'zod';
import { boolean, httpUrl, integer, ipRanges, millis, mysqlUrl, nodeId, oneOf, optionalText, text } from './kinds.js';

export interface SettingSpec<S extends z.ZodType = z.ZodType> {
  /** The value used when the variable is unset, written as it would be in `.env`. */
  default: string;
  /** One line for `.env.example`. */
  doc: string;
  schema: S;
  /** Never echoed in errors or logs. */
  secret?: boolean;
}

const spec = <S extends z.ZodType>(s: SettingSpec<S>): SettingSpec<S> => s;

/**
 * Every setting wa-fleet reads, in the order `.env.example` lists them. This table is the only
 * place a setting is declared: the parser, the typed config and `.env.example` all derive from it.
 */
export const SETTINGS = {
  NODE_ENV: spec({ default: 'development', doc: 'development, test or production (production refuses demo mode)', schema: oneOf(['development', 'test', 'production']) }),
  HOST: spec({ default: '0.0.0.0', doc: 'Address the HTTP API binds to', schema: text() }),
  PORT: spec({ default: '3000', doc: 'HTTP port of the API, dashboard and /healthz', schema: integer(0, 65535) }),
  API_KEY: spec({ default: '', doc: 'Key clients send in X-API-Key (at least 16 characters, 32 when NODE_ENV=production); required unless AUTH_DISABLED', schema: optionalText(), secret: true }),
  AUTH_DISABLED: spec({ default: 'false', doc: 'Serve the API without a key; only allowed when HOST is a loopback address', schema: boolean() }),
  API_BODY_LIMIT_KB: spec({ default: '64', doc: 'Largest JSON request body accepted, in KiB', schema: integer(1, 10_240) }),
  API_AUTH_FAILURES_PER_MINUTE: spec({ default: '10', doc: 'Failed key attempts per client address (IPv6: per /64) per minute; past it the address gets 429, right key included, until its minute is over', schema: integer(1) }),
  TRUSTED_PROXIES: spec({ default: '', doc: 'Reverse proxies (IPs or CIDR ranges, comma-separated) whose X-Forwarded-For names the client address; empty: the header is ignored', schema: ipRanges() }),

  MYSQL_URL: spec({ default: 'mysql://root@127.0.0.1:3306/wa_fleet', doc: 'MySQL/MariaDB connection, mysql://user:pass@host:port/database', schema: mysqlUrl(), secret: true }),
  MYSQL_POOL_SIZE: spec({ default: '10', doc: 'Connections in the MySQL pool', schema: integer(1, 1000) }),
  MIGRATE_ON_START: spec({ default: 'true', doc: 'Apply pending migrations from sql/ at boot', schema: boolean() }),
  DB_RETRY_INTERVAL_MS: spec({ default: '5000', doc: 'Wait between attempts while the database is unreachable', schema: millis(100) }),

  SESSION_STORAGE_PATH: spec({ default: './data/sessions', doc: 'Folder holding one LocalAuth profile per instance', schema: text().min(1, 'must not be empty') }),
  SESSION_STORE: spec({ default: 'local', doc: "local: a session lives in its profile folder only; mysql: it is also backed up to MySQL (whatsapp-web.js's RemoteAuth) and restored from there, without a QR, when the folder is gone", schema: oneOf(['local', 'mysql']) }),
  SESSION_BACKUP_INTERVAL_MS: spec({ default: '300000', doc: "With SESSION_STORE=mysql: time between two backups of a linked session (the first comes 60 s after linking); RemoteAuth's minimum is 60000", schema: millis(60_000) }),
  SESSION_FIRST_BACKUP_DELAY_MS: spec({ default: '60000', doc: "With SESSION_STORE=mysql: wait between linking and a session's first backup (whatsapp-web.js's RemoteAuth waits 60 s for the session to settle; until then a moved instance needs a new QR)", schema: millis(1_000) }),
  CACHE_PATH: spec({ default: './data/wwebjs_cache', doc: "whatsapp-web.js's web-version cache for the real site", schema: text().min(1, 'must not be empty') }),
  CHROME_PATH: spec({ default: '/usr/bin/chromium', doc: "Chromium executable (Debian's chromium package)", schema: text().min(1, 'must not be empty') }),
  WORKER_USER: spec({ default: 'wa-fleet-worker', doc: 'Unprivileged user workers and their Chromium run as when the supervisor runs as root (created by the setup scripts); ignored when not root', schema: text().min(1, 'must not be empty') }),
  BROWSER_SANDBOX: spec({ default: 'off', doc: "on: Chromium keeps its own sandbox (multi-process); off: single-process without it (smaller, see the README)", schema: oneOf(['on', 'off']) }),
  WA_FLEET_FAKE_WEB: spec({ default: 'false', doc: 'Demo/test mode: workers load the fake WhatsApp Web (refused when NODE_ENV=production)', schema: boolean() }),

  LOG_LEVEL: spec({ default: 'info', doc: 'error, warn, info or debug', schema: oneOf(['error', 'warn', 'info', 'debug']) }),
  LOG_FORMAT: spec({ default: 'pretty', doc: 'pretty (human console lines) or json (one JSON object per line)', schema: oneOf(['pretty', 'json']) }),
  LOG_FILE: spec({ default: '', doc: 'Also write JSON logs to this file (empty: console only)', schema: optionalText() }),

  NOTIFICATION_WEBHOOK_URL: spec({ default: '', doc: 'Where every notification is POSTed (empty: none)', schema: httpUrl() }),
  WEBHOOK_SECRET: spec({ default: '', doc: 'HMAC-SHA256 key signing fleet-wide webhooks (to NOTIFICATION_WEBHOOK_URL) and those of instances without a secret of their own', schema: optionalText(), secret: true }),
  WEBHOOK_MAX_ATTEMPTS: spec({ default: '8', doc: 'Deliveries tried before a webhook is dead-lettered', schema: integer(1, 100) }),
  WEBHOOK_BASE_DELAY_MS: spec({ default: '5000', doc: 'First retry delay of a webhook; doubles each attempt', schema: millis(1) }),
  WEBHOOK_TIMEOUT_MS: spec({ default: '10000', doc: 'Time a webhook receiver has to answer', schema: millis(100) }),

  HEALTH_CHECK_INTERVAL_MS: spec({ default: '30000', doc: 'Health loop: ping every running instance', schema: millis(1000) }),
  HEALTH_CHECK_START_DELAY_MS: spec({ default: '15000', doc: 'Health checks start this long after boot', schema: millis() }),
  HEALTH_CHECK_TIMEOUT_MS: spec({ default: '10000', doc: 'A ping not answered within this is a failure', schema: millis(100) }),
  DEEP_CHECK_INTERVAL_MS: spec({ default: '120000', doc: 'Deep loop: page Store, socket state, page heap, error budget', schema: millis(1000) }),
  RECOVERY_INTERVAL_MS: spec({ default: '60000', doc: 'Recovery loop: start enabled instances that have no worker; reconcile DB and live status', schema: millis(1000) }),
  MEMORY_CHECK_INTERVAL_MS: spec({ default: '300000', doc: 'Memory loop: caps, leak verdicts, forced GC', schema: millis(1000) }),
  MEMORY_SAMPLE_INTERVAL_MS: spec({ default: '30000', doc: 'Memory samples for the report and the leak trend', schema: millis(1000) }),
  CHECK_CONCURRENCY: spec({ default: '8', doc: 'Instances one loop checks at the same time', schema: integer(1, 1000) }),
  STUCK_STATE_TIMEOUT_MS: spec({ default: '30000', doc: 'A transitional status held longer than this is stuck', schema: millis(1000) }),
  ZOMBIE_PING_FAILURES: spec({ default: '3', doc: 'Consecutive failed pings while CONNECTED that make a zombie', schema: integer(1, 100) }),
  ERROR_BUDGET_COUNT: spec({ default: '5', doc: 'More errors than this within the window make an instance degraded', schema: integer(1) }),
  ERROR_BUDGET_WINDOW_MS: spec({ default: '300000', doc: 'Window of the error budget', schema: millis(1000) }),
  MAX_RECOVERY_ATTEMPTS: spec({ default: '3', doc: 'Failed recoveries before an instance is declared corrupted and cleaned up', schema: integer(1, 100) }),

  RECONNECT_BASE_DELAY_MS: spec({ default: '2000', doc: 'Reconnect delay = min(BASE * 1.5^attempt, MAX) + random(0, JITTER), except the first one of a steady connection (RECONNECT_FIRST_DELAY_MS)', schema: millis() }),
  RECONNECT_FIRST_DELAY_MS: spec({ default: '0', doc: 'Delay of the first reconnect after an instance CONNECTED for 10 s or more went down (0: at once); from the second attempt the formula applies', schema: millis() }),
  RECONNECT_MAX_DELAY_MS: spec({ default: '300000', doc: 'Upper bound of the reconnect delay before jitter', schema: millis() }),
  RECONNECT_JITTER_MS: spec({ default: '1000', doc: 'Random extra delay so instances do not reconnect in lockstep', schema: millis() }),
  RECONNECT_MAX_ATTEMPTS: spec({ default: '20', doc: 'Reconnects tried before reconnect.failed and a human is needed', schema: integer(1, 1000) }),
  REHYDRATE_CONCURRENCY: spec({ default: '4', doc: 'Instances started at once when the supervisor boots', schema: integer(1, 1000) }),
  REHYDRATE_STAGGER_MS: spec({ default: '0', doc: "Least pause between two boot starts, on top of the start gate's pacing (LAUNCH_CONCURRENCY, memory room); 0: each start as soon as the gate admits it (measured fastest at 5, 8 and 50, see the README)", schema: millis() }),
  LAUNCH_CONCURRENCY: spec({ default: '4', doc: 'Worker launches in progress at once, for every reason (create, enable, reconnect, boot, recovery, QR request)', schema: integer(1, 1000) }),
  INSTANCE_EXPECTED_MB: spec({ default: '200', doc: 'Memory one more instance is expected to cost until running instances give a measured median; a start waits while fleet memory plus this exceeds FLEET_MEMORY_CAP_MB', schema: integer(16) }),
  MAX_INSTANCES: spec({ default: '1000', doc: 'Instances that may exist at once; a create beyond it is refused with 409 INSTANCE_LIMIT', schema: integer(1, 100000) }),
  CLUSTER: spec({ default: 'off', doc: 'on: several supervisors share this MySQL, each instance leased to one node at a time and moved to another when its node dies (needs SESSION_STORE=mysql); off: this supervisor runs every instance', schema: oneOf(['off', 'on']) }),
  NODE_ID: spec({ default: '', doc: "This supervisor's name among the nodes (letters, digits, . _ -; empty: the host name); unique per running node", schema: nodeId() }),
  NODE_URL: spec({ default: '', doc: 'How the other nodes reach this one to forward a command for an instance it runs (empty: http://<HOST or host name>:<PORT>)', schema: httpUrl() }),
  NODE_MAX_INSTANCES: spec({ default: '50', doc: 'With CLUSTER=on: instances this node runs at most (placement fills the least-loaded node first)', schema: integer(1, 100000) }),
  LEASE_TTL_MS: spec({ default: '15000', doc: "With CLUSTER=on: a node's lease on an instance lasts this long unless renewed; a dead node's instances move after it", schema: millis(3_000) }),
  LEASE_RENEW_MS: spec({ default: '3000', doc: 'With CLUSTER=on: how often a node renews its leases, claims free instances and looks for dead nodes; at most LEASE_TTL_MS / 3', schema: millis(200) }),
  QR_IDLE_TIMEOUT_MS: spec({ default: '600000', doc: 'A worker waiting for a QR scan this long is stopped to free memory', schema: millis(1000) }),

  WEB_LOAD_TIMEOUT_MS: spec({ default: '60000', doc: "Time WhatsApp Web has to load in a worker's page before initialize gives up", schema: millis(1000) }),
  WORKER_SPARE: spec({ default: 'on', doc: 'on: one worker is kept forked with the library loaded (no browser, about 60 MB), so a start or recovery pays only for the browser', schema: oneOf(['on', 'off']) }),
  WORKER_START_TIMEOUT_MS: spec({ default: '60000', doc: 'A worker that does not finish its start handshake in time is killed', schema: millis(1000) }),
  WORKER_STOP_TIMEOUT_MS: spec({ default: '8000', doc: 'Time a worker has to destroy its client before its process group is killed', schema: millis(100) }),
  SHUTDOWN_TIMEOUT_MS: spec({ default: '25000', doc: 'Whole graceful-shutdown budget; keep below kill_timeout in ecosystem.config.cjs', schema: millis(1000) }),

  INSTANCE_MEMORY_CAP_MB: spec({ default: '500', doc: 'PSS of one worker plus its Chromium above which it is restarted', schema: integer(16) }),
  FLEET_MEMORY_CAP_MB: spec({ default: '2048', doc: 'PSS of all instances together: warn and critical thresholds apply to it', schema: integer(64) }),
  MEMORY_WARN_PERCENT: spec({ default: '80', doc: 'Fleet memory warning threshold, percent of the cap', schema: integer(1, 100) }),
  MEMORY_CRITICAL_PERCENT: spec({ default: '95', doc: 'Fleet memory critical threshold: no new starts, largest restarted', schema: integer(1, 100) }),
  LEAK_SLOPE_MB_PER_HOUR: spec({ default: '50', doc: 'Sustained growth above this rate is a leak', schema: integer(1) }),
  LEAK_WINDOW_MS: spec({ default: '3600000', doc: 'Memory history the leak trend is computed over', schema: millis(60_000) }),
  LEAK_MIN_SAMPLES: spec({ default: '10', doc: 'Samples needed before a leak can be concluded', schema: integer(3) }),

  MESSAGE_MEDIA_MAX_MB: spec({ default: '16', doc: 'Largest media file a message may carry (base64 or fetched from its URL), in MiB', schema: integer(1, 64) }),
  MESSAGE_QUEUE_MAX: spec({ default: '1000', doc: 'Messages one instance may have waiting (queued or sending); past it a send gets 429 QUEUE_FULL', schema: integer(1, 1_000_000) }),
  MEDIA_FETCH_TIMEOUT_MS: spec({ default: '15000', doc: 'Time a media URL has to deliver its file when a message is accepted', schema: millis(100) }),
  SEND_MIN_INTERVAL_MS: spec({ default: '1000', doc: 'Least time between two sends of one instance, before jitter (0: no pacing)', schema: millis() }),
  SEND_JITTER_MS: spec({ default: '1000', doc: 'Random extra wait added to each send interval, so a burst does not look like a bot', schema: millis() }),
  SEND_MAX_PER_MINUTE: spec({ default: '30', doc: 'Sends one instance may make in any 60 s (0: no limit)', schema: integer(0, 100_000) }),
  SEND_MAX_AGE_MS: spec({ default: '86400000', doc: 'A message not sent this long after it was accepted becomes expired', schema: millis(1000) }),
  SEND_TIMEOUT_MS: spec({ default: '30000', doc: 'Time one send has in the worker before it counts as a failed attempt (then looked up before any retry)', schema: millis(1000) }),
  SEND_MAX_ATTEMPTS: spec({ default: '5', doc: 'Send attempts (and lookups that could not tell) before a message becomes failed or unknown', schema: integer(1, 100) }),

  SSE_MAX_STREAMS: spec({ default: '20', doc: 'Dashboard event streams open at once; past it a new stream gets 429', schema: integer(1, 10_000) }),
  SSE_TOKEN_TTL_MS: spec({ default: '60000', doc: 'A stream token is valid this long and for one stream only', schema: millis(1000) }),
  PAIRING_MAX_ATTEMPTS: spec({ default: '5', doc: 'Pairing codes one instance may request per window', schema: integer(1) }),
  PAIRING_WINDOW_MS: spec({ default: '3600000', doc: 'Window of the pairing-code limit', schema: millis(1000) }),
} as const;

export type SettingName = keyof typeof SETTINGS;
