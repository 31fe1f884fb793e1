import { z } from 'zod';

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

export const mysqlUrl = () =>
  z
    .string()
    .trim()
    .pipe(z.url({ protocol: /^mysql$/, error: 'expected mysql://user:pass@host:port/database' }))
    .refine((v) => new URL(v).pathname.length > 1, 'expected a database name in the path (…/database)');
