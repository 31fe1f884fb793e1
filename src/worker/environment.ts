/**
 * The environment a worker (and so its Chromium) starts with: an allowlist, not the supervisor's
 * whole environment. A renderer exploit through a message or a link preview can read
 * /proc/<pid>/environ of its own browser; it must find no API key, webhook secret or database
 * URL there. What a worker needs arrives in its `init` message instead.
 */

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
]);
const ALLOWED_PREFIXES = ['LC_', 'XDG_'];

export function workerEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const kept: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && (ALLOWED.has(name) || ALLOWED_PREFIXES.some((p) => name.startsWith(p)))) kept[name] = value;
  }
  return kept;
}
