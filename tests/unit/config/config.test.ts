import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig, secretValues, SETTINGS } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/errors/index.js';
import { PACKAGE_ROOT } from '../../../src/paths.js';

const KEY = 'k'.repeat(32);

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ API_KEY: KEY, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('gives every setting its documented default when only the API key is set', () => {
    const c = loadConfig({ API_KEY: KEY });
    expect(c.port).toBe(3000);
    expect(c.healthCheckIntervalMs).toBe(30_000);
    expect(c.reconnectMaxAttempts).toBe(20);
    expect(c.logFormat).toBe('pretty');
    expect(c.migrateOnStart).toBe(true);
    expect(c.sessionStoragePath).toBe('./data/sessions');
    expect(c.notificationWebhookUrl).toBeUndefined();
  });

  it('parses numbers, booleans and enums from their string form', () => {
    const c = loadConfig({ API_KEY: KEY, PORT: '8080', WA_FLEET_FAKE_WEB: 'TRUE', LOG_FORMAT: 'json', HEALTH_CHECK_TIMEOUT_MS: '500' });
    expect(c.port).toBe(8080);
    expect(c.waFleetFakeWeb).toBe(true);
    expect(c.logFormat).toBe('json');
    expect(c.healthCheckTimeoutMs).toBe(500);
  });

  it.each([
    ['a non-number interval', { HEALTH_CHECK_INTERVAL_MS: 'abc' }, 'HEALTH_CHECK_INTERVAL_MS: expected a whole number of milliseconds (got "abc")'],
    ['a fractional interval', { RECOVERY_INTERVAL_MS: '1.5' }, 'RECOVERY_INTERVAL_MS: expected a whole number of milliseconds (got "1.5")'],
    ['a negative timeout', { HEALTH_CHECK_TIMEOUT_MS: '-5' }, 'HEALTH_CHECK_TIMEOUT_MS: must be at least 100 ms (got "-5")'],
    ['an unknown LOG_FORMAT', { LOG_FORMAT: 'xml' }, 'LOG_FORMAT: expected one of pretty, json (got "xml")'],
    ['an unknown LOG_LEVEL', { LOG_LEVEL: 'verbose' }, 'LOG_LEVEL: expected one of error, warn, info, debug (got "verbose")'],
    ['a port out of range', { PORT: '70000' }, 'PORT: must be at most 65535 (got "70000")'],
    ['a bad boolean', { MIGRATE_ON_START: 'maybe' }, 'MIGRATE_ON_START: expected true or false (got "maybe")'],
    ['a webhook URL that is not http', { NOTIFICATION_WEBHOOK_URL: 'ftp://x' }, 'NOTIFICATION_WEBHOOK_URL: expected an http(s) URL (got "ftp://x")'],
    ['demo mode in production', { WA_FLEET_FAKE_WEB: '1', NODE_ENV: 'production' }, 'WA_FLEET_FAKE_WEB: demo mode is refused when NODE_ENV=production'],
    ['a warn threshold above critical', { MEMORY_WARN_PERCENT: '96' }, 'MEMORY_WARN_PERCENT: must be below MEMORY_CRITICAL_PERCENT'],
    ['a production API key under 32 characters', { NODE_ENV: 'production', API_KEY: 'k'.repeat(31) }, 'API_KEY: must be at least 32 characters when NODE_ENV=production'],
    ['a bad percent-escape in the MySQL password', { MYSQL_URL: 'mysql://u:p%zz@h/db' }, 'MYSQL_URL: malformed percent-escape in the password (write a literal % as %25)'],
    ['a bad percent-escape in the MySQL user', { MYSQL_URL: 'mysql://u%g1:p@h/db' }, 'MYSQL_URL: malformed percent-escape in the user name (write a literal % as %25)'],
    ['a bad percent-escape in the MySQL database', { MYSQL_URL: 'mysql://u:p@h/d%zz' }, 'MYSQL_URL: malformed percent-escape in the database name (write a literal % as %25)'],
    ['a MySQL URL without a host', { MYSQL_URL: 'mysql://u:p@/db' }, 'MYSQL_URL: expected a host (mysql://user:pass@host:port/database)'],
    ['a MySQL URL with an empty authority', { MYSQL_URL: 'mysql:///db' }, 'MYSQL_URL: expected a host (mysql://user:pass@host:port/database)'],
    ['a MySQL URL of another scheme', { MYSQL_URL: 'postgres://u:p@h/db' }, 'MYSQL_URL: expected the mysql:// scheme (mysql://user:pass@host:port/database)'],
    ['a MySQL URL with no scheme', { MYSQL_URL: 'u:p@h/db' }, 'MYSQL_URL: expected the mysql:// scheme (mysql://user:pass@host:port/database)'],
    ['a MySQL URL without //', { MYSQL_URL: 'mysql:h/db' }, 'MYSQL_URL: expected mysql://user:pass@host:port/database'],
    ['a non-numeric MySQL port', { MYSQL_URL: 'mysql://u:p@h:abc/db' }, 'MYSQL_URL: expected a numeric port (mysql://user:pass@host:3306/database)'],
    ['a MySQL port out of range', { MYSQL_URL: 'mysql://u:p@h:70000/db' }, 'MYSQL_URL: expected a port from 1 to 65535'],
    ['a MySQL URL without a database', { MYSQL_URL: 'mysql://u:p@h:3306' }, 'MYSQL_URL: expected a database name in the path (…/database)'],
    ['a trusted proxy that is no address', { TRUSTED_PROXIES: '127.0.0.1, proxy.lan' }, 'TRUSTED_PROXIES: expected IP addresses or CIDR ranges separated by commas; "proxy.lan" is neither (got "127.0.0.1, proxy.lan")'],
    ['a trusted range with too long a prefix', { TRUSTED_PROXIES: '10.0.0.0/33' }, 'TRUSTED_PROXIES: expected IP addresses or CIDR ranges separated by commas; "10.0.0.0/33" is neither (got "10.0.0.0/33")'],
    ['a cluster without portable sessions', { CLUSTER: 'on' }, 'CLUSTER: on needs SESSION_STORE=mysql: an instance moved to another node restores its session from MySQL, not from this disk'],
    ['a renewal interval over a third of the lease', { LEASE_TTL_MS: '9000', LEASE_RENEW_MS: '3001' }, 'LEASE_RENEW_MS: must be at most LEASE_TTL_MS / 3 (3000): a node must be able to miss a renewal and still stop its browsers before its leases lapse'],
    ['a lease shorter than 3 s', { LEASE_TTL_MS: '2999' }, 'LEASE_TTL_MS: must be at least 3000 ms (got "2999")'],
    ['a node id with a slash', { NODE_ID: 'a/b' }, 'NODE_ID: expected 1-64 letters, digits, ".", "_" or "-" (got "a/b")'],
    ['a NODE_URL that is not http', { NODE_URL: 'node-2:3000' }, 'NODE_URL: expected an http(s) URL (got "node-2:3000")'],
  ])('rejects %s with one line naming the variable', (_kind, env, message) => {
    const err = errorOf(env);
    expect(err.message).toBe(message);
    expect(err.message).not.toContain('\n');
    expect(err.code).toBe('CONFIG_INVALID');
  });

  it('runs alone by default, named after the host; a cluster node takes its NODE_ID as given', () => {
    const alone = loadConfig({ API_KEY: KEY });
    expect(alone.cluster).toBe('off');
    expect(alone.nodeId).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
    const node = loadConfig({ API_KEY: KEY, CLUSTER: 'on', SESSION_STORE: 'mysql', NODE_ID: 'node-2', NODE_URL: 'http://10.0.0.2:3000' });
    expect([node.cluster, node.nodeId, node.nodeUrl, node.leaseTtlMs, node.leaseRenewMs]).toEqual(['on', 'node-2', 'http://10.0.0.2:3000', 15_000, 3_000]);
  });

  it('requires an API key when auth is on, naming the setting', () => {
    expect(() => loadConfig({})).toThrow('API_KEY: is required (or set AUTH_DISABLED=true with HOST=127.0.0.1)');
  });

  it('accepts a missing key for tools that serve no API', () => {
    expect(loadConfig({}, { server: false }).apiKey).toBeUndefined();
  });

  it('allows AUTH_DISABLED only on a loopback host', () => {
    expect(loadConfig({ AUTH_DISABLED: 'true', HOST: '127.0.0.1' }).authDisabled).toBe(true);
    expect(() => loadConfig({ AUTH_DISABLED: 'true' })).toThrow('AUTH_DISABLED: is only allowed when HOST is a loopback address');
  });

  it('accepts a 32-character key in production, and a 16-character one elsewhere', () => {
    expect(loadConfig({ NODE_ENV: 'production', API_KEY: 'k'.repeat(32) }).apiKey).toHaveLength(32);
    expect(loadConfig({ NODE_ENV: 'development', API_KEY: 'k'.repeat(16) }).apiKey).toHaveLength(16);
  });

  it('accepts MySQL URLs with escapes, an IPv6 host and no port, and decodes the password for redaction', () => {
    const c = loadConfig({ API_KEY: KEY, MYSQL_URL: 'mysql://app:p%25ss%40word@[::1]:3307/wa_fleet' });
    expect(secretValues(c)).toContain('p%ss@word');
    expect(loadConfig({ API_KEY: KEY, MYSQL_URL: 'mysql://root@db.internal/wa' }).mysqlUrl).toBe('mysql://root@db.internal/wa');
  });

  it('reads TRUSTED_PROXIES as addresses and CIDR ranges, empty by default', () => {
    expect(loadConfig({ API_KEY: KEY }).trustedProxies).toEqual([]);
    expect(loadConfig({ API_KEY: KEY, TRUSTED_PROXIES: ' 127.0.0.1, 10.0.0.0/8 ,fd00::/8,::1 ' }).trustedProxies).toEqual([
      { family: 'ipv4', address: '127.0.0.1', prefix: 32 },
      { family: 'ipv4', address: '10.0.0.0', prefix: 8 },
      { family: 'ipv6', address: 'fd00::', prefix: 8 },
      { family: 'ipv6', address: '::1', prefix: 128 },
    ]);
  });

  it('never echoes a secret value in its error', () => {
    const err = errorOf({ API_KEY: 'short-secret' });
    expect(err.message).toBe('API_KEY: must be at least 16 characters');
    const bad = errorOf({ MYSQL_URL: 'postgres://u:hunter2@h/db' });
    expect(bad.message).not.toContain('hunter2');
    for (const url of ['mysql://u:hunter2%zz@h/db', 'mysql://u:hunter2@h:port/db', 'mysql://u:hunter2@/db']) {
      expect(errorOf({ MYSQL_URL: url }).message).not.toContain('hunter2');
    }
  });
});

describe('.env.example', () => {
  const example = parseEnv(readFileSync(join(PACKAGE_ROOT, '.env.example'), 'utf8'));

  it('lists every setting with the default the code uses', () => {
    for (const [name, spec] of Object.entries(SETTINGS)) {
      expect(example[name], name).toBe(spec.default);
    }
  });

  it('lists nothing the code does not read', () => {
    expect(Object.keys(example).sort()).toEqual(Object.keys(SETTINGS).sort());
  });
});
