import type { z } from 'zod';
import { ConfigError } from '../errors/index.js';
import { resolveWorkerUser } from '../worker/worker-user.js';
import { camel, type Camel } from './camel.js';
import { SETTINGS, type SettingName } from './settings.js';

type Parsed<N extends SettingName> = z.output<(typeof SETTINGS)[N]['schema']>;

/** Every setting, parsed and typed, under its camelCase name. */
export type Config = Readonly<{ [N in SettingName as Camel<N>]: Parsed<N> }>;

export type Environment = Readonly<Record<string, string | undefined>>;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function parseSetting(name: SettingName, env: Environment): unknown {
  const setting = SETTINGS[name];
  const raw = env[name] ?? setting.default;
  const result = setting.schema.safeParse(raw);
  if (result.success) return result.data;
  const message = result.error.issues[0]?.message ?? 'invalid value';
  const shown = 'secret' in setting && setting.secret ? '' : ` (got "${raw}")`;
  throw new ConfigError(name, `${message}${shown}`);
}

export interface LoadOptions {
  /** False for tools that serve no API (the migration CLI): the API key is then not required. */
  server?: boolean;
}

/** Rules that involve more than one setting. */
function checkCombinations(c: Config, { server = true }: LoadOptions): void {
  if (server && !c.apiKey && !c.authDisabled) {
    throw new ConfigError('API_KEY', 'is required (or set AUTH_DISABLED=true with HOST=127.0.0.1)');
  }
  if (c.apiKey && c.apiKey.length < 16) throw new ConfigError('API_KEY', 'must be at least 16 characters');
  // Long enough that guessing is hopeless even at the limiter's pace (the quick start writes 48).
  if (c.apiKey && c.apiKey.length < 32 && c.nodeEnv === 'production') {
    throw new ConfigError('API_KEY', 'must be at least 32 characters when NODE_ENV=production');
  }
  if (c.authDisabled && !LOOPBACK.has(c.host)) {
    throw new ConfigError('AUTH_DISABLED', `is only allowed when HOST is a loopback address (HOST is "${c.host}")`);
  }
  if (c.waFleetFakeWeb && c.nodeEnv === 'production') {
    throw new ConfigError('WA_FLEET_FAKE_WEB', 'demo mode is refused when NODE_ENV=production');
  }
  if (c.reconnectMaxDelayMs < c.reconnectBaseDelayMs) {
    throw new ConfigError('RECONNECT_MAX_DELAY_MS', 'must not be below RECONNECT_BASE_DELAY_MS');
  }
  if (c.memoryWarnPercent >= c.memoryCriticalPercent) {
    throw new ConfigError('MEMORY_WARN_PERCENT', 'must be below MEMORY_CRITICAL_PERCENT');
  }
  if (c.healthCheckTimeoutMs >= c.healthCheckIntervalMs) {
    throw new ConfigError('HEALTH_CHECK_TIMEOUT_MS', 'must be below HEALTH_CHECK_INTERVAL_MS');
  }
  if (c.workerStopTimeoutMs >= c.shutdownTimeoutMs) {
    throw new ConfigError('WORKER_STOP_TIMEOUT_MS', 'must be below SHUTDOWN_TIMEOUT_MS');
  }
  if (c.cluster === 'on' && c.sessionStore !== 'mysql') {
    throw new ConfigError('CLUSTER', 'on needs SESSION_STORE=mysql: an instance moved to another node restores its session from MySQL, not from this disk');
  }
  if (c.leaseRenewMs * 3 > c.leaseTtlMs) {
    throw new ConfigError('LEASE_RENEW_MS', `must be at most LEASE_TTL_MS / 3 (${Math.floor(c.leaseTtlMs / 3)}): a node must be able to miss a renewal and still stop its browsers before its leases lapse`);
  }
  // A supervisor running as root runs its browsers as WORKER_USER: a missing user stops it here, in one line.
  if (server) resolveWorkerUser(c.workerUser);
}

/**
 * Parses and validates every setting once. Throws a ConfigError whose message is one line naming
 * the variable and what is wrong with it; secret values are never echoed.
 */
export function loadConfig(env: Environment, options: LoadOptions = {}): Config {
  const entries = (Object.keys(SETTINGS) as SettingName[]).map((name) => [camel(name), parseSetting(name, env)]);
  const config = Object.freeze(Object.fromEntries(entries)) as Config;
  checkCombinations(config, options);
  return config;
}

/** Values that must never appear in logs or responses. */
export function secretValues(config: Config): string[] {
  const password = decodeURIComponent(new URL(config.mysqlUrl).password);
  return [config.apiKey, config.webhookSecret, password].filter((v): v is string => !!v && v.length >= 4);
}
