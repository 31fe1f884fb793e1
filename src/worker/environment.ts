/**
 * The environment a worker (and so its Chromium) starts with: an allowlist, not the supervisor's
 * whole environment. A renderer exploit through a message or a link preview can read
 * /proc/<pid>/environ of its own browser; it must find no API key, webhook secret or database
 * URL there. What a worker needs arrives in its `init` message instead.
 */
import { join } from 'node:path';

/** Names a browser or Node needs to run: paths, locale, time zone, display, certificates, proxies. */
const ALLOWED = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
  'TMP',
  'TEMP',
  'DISPLAY',
  'WAYLAND_DISPLAY',
  'DBUS_SESSION_BUS_ADDRESS',
  'FONTCONFIG_PATH',
  'FONTCONFIG_FILE',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'NODE_EXTRA_CA_CERTS',
  // A proxy the browser must use to reach WhatsApp Web: the operator's network, not our secret.
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  // System-wide search paths (read only); the per-user XDG folders are the profile's, below.
  'XDG_DATA_DIRS',
  'XDG_CONFIG_DIRS',
  // A tag, no secret: the test suite and the benches find (and kill) what they started by it.
  'WA_FLEET_TEST_RUN',
  'WA_FLEET_BENCH_RUN',
]);
const ALLOWED_PREFIXES = ['LC_'];

/** The worker's own user, when it is not the supervisor's: its name replaces the supervisor's. */
export interface WorkerIdentity {
  name: string;
  home: string;
}

/**
 * The allowlisted environment. With `identity` (the worker runs as another user), HOME, USER and
 * LOGNAME are that user's and the per-user XDG folders lie under its HOME, so nothing points the
 * worker at the supervisor's home.
 */
export function workerEnvironment(env: NodeJS.ProcessEnv, identity?: WorkerIdentity): NodeJS.ProcessEnv {
  const kept: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && (ALLOWED.has(name) || ALLOWED_PREFIXES.some((p) => name.startsWith(p)))) kept[name] = value;
  }
  if (!identity) return kept;
  return { ...kept, USER: identity.name, LOGNAME: identity.name, ...homeEnvironment(identity.home) };
}

/** Where a browser keeps what it writes outside its profile (NSS database, fontconfig cache, crash reports): inside the profile. */
export function browserHome(profile: string): string {
  return join(profile, 'home');
}

/** HOME and the per-user XDG folders, all under `home`. */
export function homeEnvironment(home: string): Record<string, string> {
  return {
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_STATE_HOME: join(home, '.local', 'state'),
  };
}
