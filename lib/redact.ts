export const REDACTED = '[REDACTED]';

// Values that look like credentials even when we were not told them: `apiKey=…`, `"token": "…"`,
// `Authorization: Bearer …`, and the password part of a connection URL.
const KEY_VALUE =
  /((?:x[-_]?)?api[-_]?key|token|secret|password|passwd|authorization|signature)(["']?\s*[:=]\s*["']?)(?:bearer\s+)?([^\s"',;&}]+)/gi;
const BEARER = /\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi;
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)([^@\s]+)(@)/gi;

export type Redactor = (text: string) => string;

/**
 * Builds a function that hides the given secret values and anything shaped like a credential.
 * Secrets are matched literally (longest first, so one secret containing another is fully hidden).
 */
export function createRedactor(secrets: readonly string[]): Redactor {
  const literals = [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
  return (text: string): string => {
    let out = text;
    for (const secret of literals) out = out.split(secret).join(REDACTED);
    return out
      .replace(URL_PASSWORD, `$1${REDACTED}$3`)
      .replace(BEARER, `$1${REDACTED}`)
      .replace(KEY_VALUE, (_m, key: string, sep: string) => `${key}${sep}${REDACTED}`);
  };
}

/** Applies a redactor to every string inside a plain value (objects, arrays), returning a copy. */
export function redactDeep(value: unknown, redact: Redactor, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, redact, depth + 1));
  if (value instanceof Error) return redact(value.stack ?? `${value.name}: ${value.message}`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = /key|token|secret|password|authorization/i.test(k) && typeof v === 'string' ? REDACTED : redactDeep(v, redact, depth + 1);
  }
  return out;
}
