import { z } from 'zod';
import { hostname } from 'node:os';
import { parseIpRange, type IpRange } from './addresses.js';

// Each kind parses the raw string of one environment variable. The messages complete the
// sentence "SETTING_NAME: …", so a bad value yields one line that says what is wrong.

const wholeNumber = (what: string) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, `expected ${what}`)
    .transform(Number)
    .pipe(z.number().safe(`expected ${what} small enough to be exact`));

/** A duration in whole milliseconds, ≥ min (0 unless stated). */
export const millis = (min = 0) =>
  wholeNumber('a whole number of milliseconds').pipe(z.number().min(min, `must be at least ${min} ms`));

/** A whole number in [min, max]. */
export const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  wholeNumber('a whole number').pipe(
    z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`),
  );

export const boolean = () =>
  z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], 'expected true or false'))
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z
    .string()
    .trim()
    .pipe(z.enum(values, `expected one of ${values.join(', ')}`));

export const text = () => z.string();

export const optionalText = () =>
  z
    .string()
    .trim()
    .transform((v) => (v === '' ? undefined : v));

export const httpUrl = () =>
  z
    .string()
    .trim()
    .transform((v) => (v === '' ? undefined : v))
    .pipe(
      z
        .url({ protocol: /^https?$/, error: 'expected an http(s) URL' })
        .optional(),
    );

/** A node's name: empty means the host name (its characters outside the allowed set made `-`). */
export const nodeId = () =>
  z
    .string()
    .trim()
    .transform((v) => (v === '' ? hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64) || 'node' : v))
    .pipe(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected 1-64 letters, digits, ".", "_" or "-"'));

const MYSQL_URL_SHAPE = 'expected mysql://user:pass@host:port/database';

/**
 * What is wrong with a MySQL URL, or null. mysql2 decodes the user, password, host and database
 * itself and throws a bare URIError on a bad percent-escape, so every part it reads is checked
 * here: a malformed URL is a one-line setting error at boot, never a stack trace later. The
 * messages never quote the value (it holds the password).
 */
export function mysqlUrlProblem(value: string): string | null {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1];
  if (!scheme) return MYSQL_URL_SHAPE;
  if (scheme.toLowerCase() !== 'mysql') return 'expected the mysql:// scheme (mysql://user:pass@host:port/database)';
  const authority = /^mysql:\/\/([^/?#]*)/i.exec(value)?.[1];
  if (authority === undefined) return MYSQL_URL_SHAPE;
  const [, host, port] = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(authority.slice(authority.lastIndexOf('@') + 1)) ?? [];
  if (!host) return 'expected a host (mysql://user:pass@host:port/database)';
  if (port && !/^\d+$/.test(port)) return 'expected a numeric port (mysql://user:pass@host:3306/database)';
  if (port && (Number(port) < 1 || Number(port) > 65_535)) return 'expected a port from 1 to 65535';
  if (!URL.canParse(value)) return MYSQL_URL_SHAPE;
  const url = new URL(value);
  const parts: Array<[string, string]> = [['user name', url.username], ['password', url.password], ['host', url.hostname], ['database name', url.pathname.slice(1)]];
  for (const [part, text] of parts) {
    try {
      decodeURIComponent(text);
    } catch {
      return `malformed percent-escape in the ${part} (write a literal % as %25)`;
    }
  }
  if (url.pathname.length <= 1) return 'expected a database name in the path (…/database)';
  return null;
}

export const mysqlUrl = () =>
  z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      const problem = mysqlUrlProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

/** Comma-separated IP addresses and CIDR ranges (empty: none). */
export const ipRanges = () =>
  z.string().transform((value, ctx): IpRange[] => {
    const ranges: IpRange[] = [];
    for (const item of value.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      const range = parseIpRange(item);
      if (!range) {
        ctx.addIssue({ code: 'custom', message: `expected IP addresses or CIDR ranges separated by commas; "${item}" is neither` });
        return z.NEVER;
      }
      ranges.push(range);
    }
    return ranges;
  });
