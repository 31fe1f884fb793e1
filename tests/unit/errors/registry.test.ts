import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppError, ERRORS, ErrorCode, statusOf } from '../../../src/errors/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CODE = '[A-Z][A-Z0-9_]*[A-Z0-9]';

/** Every .ts source under `dir` (relative to the repository root), read once. */
function sources(dir: string): Array<{ file: string; text: string }> {
  return (readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((d) => d.isFile() && d.name.endsWith('.ts') && !d.name.endsWith('.d.ts'))
    .map((d) => {
      const path = join(d.parentPath, d.name);
      return { file: relative(ROOT, path), text: readFileSync(path, 'utf8') };
    });
}

const FILES = [...sources('src'), ...sources('lib')];

/** `const FooErrorCode = { KEY: 'VALUE', … }` objects: their members are codes under another name. */
function codeMaps(): Map<string, Map<string, string>> {
  const maps = new Map<string, Map<string, string>>();
  for (const { text } of FILES) {
    for (const m of text.matchAll(/const (\w+ErrorCode) = \{([^}]*)\}/g)) {
      const members = new Map<string, string>();
      for (const e of m[2]!.matchAll(new RegExp(`(\\w+):\\s*'(${CODE})'`, 'g'))) members.set(e[1]!, e[2]!);
      maps.set(m[1]!, members);
    }
  }
  return maps;
}
const MAPS = codeMaps();

/** Error classes that pass a literal code to their super constructor: `class X extends Y { … super('CODE'`. */
function classCodes(): Map<string, string> {
  const classes = new Map<string, string>();
  for (const { text } of FILES) {
    // one chunk per class declaration, so a super call is only credited to its own class
    const chunks = text.split(/(?=\bclass \w+ extends )/);
    for (const chunk of chunks) {
      const m = chunk.match(new RegExp(`^class (\\w+) extends \\w+ \\{[\\s\\S]*?\\bsuper\\(\\s*'(${CODE})'`));
      if (m) classes.set(m[1]!, m[2]!);
    }
  }
  return classes;
}
const CLASSES = classCodes();

/** The error codes a source text raises, answers or documents, by how they are written. */
function codesIn(text: string): Array<{ code: string; how: string }> {
  const found: Array<{ code: string; how: string }> = [];
  const add = (re: RegExp, how: string, pick: (m: RegExpMatchArray) => string | undefined = (m) => m[1]) => {
    for (const m of text.matchAll(re)) {
      const code = pick(m);
      found.push({ code: code ?? `<unresolved ${m[0]}>`, how });
    }
  };
  add(new RegExp(`new AppError\\(\\s*'(${CODE})'`, 'g'), 'new AppError');
  add(new RegExp(`\\bsuper\\(\\s*'(${CODE})'`, 'g'), 'super');
  add(new RegExp(`\\bcode: '(${CODE})'`, 'g'), 'code:');
  add(new RegExp(`(?<![\\w.])ErrorCode\\.(${CODE})\\b`, 'g'), 'ErrorCode.X');
  add(/\b(\w+ErrorCode)\.(\w+)\b/g, 'XErrorCode.X', (m) => (m[1] === 'ErrorCode' ? m[2] : MAPS.get(m[1]!)?.get(m[2]!)));
  add(/\bERRORS\.(\w+)\b/g, 'ERRORS.X');
  // the OpenAPI document's per-route error lists
  for (const list of text.matchAll(/\berrors: \[([^\]]*)\]/g)) {
    for (const m of list[1]!.matchAll(new RegExp(`'(${CODE})'`, 'g'))) found.push({ code: m[1]!, how: 'errors: [...]' });
  }
  return found.filter((f) => !/^[a-z]/.test(f.code));
}

function isRegistered(code: string): boolean {
  return Object.hasOwn(ERRORS, code);
}

describe('the error registry', () => {
  it('gives every code an HTTP status between 400 and 599 and a meaning', () => {
    const entries = Object.entries(ERRORS);
    expect(entries.length).toBeGreaterThan(10);
    for (const [code, { status, meaning }] of entries) {
      expect(code, code).toMatch(new RegExp(`^${CODE}$`));
      expect(Number.isInteger(status), code).toBe(true);
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThanOrEqual(599);
      expect(typeof meaning, code).toBe('string');
      expect(meaning.trim().length, code).toBeGreaterThan(5);
    }
  });

  it('ErrorCode names every registered code as itself, and statusOf reads only own properties', () => {
    expect(Object.keys(ErrorCode).sort()).toEqual(Object.keys(ERRORS).sort());
    for (const code of Object.keys(ERRORS)) expect(ErrorCode[code as ErrorCode]).toBe(code);
    expect(statusOf('INSTANCE_NOT_FOUND')).toBe(404);
    for (const notOurs of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'ER_DUP_ENTRY', 42, null, undefined]) expect(statusOf(notOurs)).toBeNull();
  });

  it('an AppError reports its registered status and, by default, its meaning', () => {
    for (const code of Object.keys(ERRORS) as ErrorCode[]) {
      const err = new AppError(code);
      expect(err.status).toBe(ERRORS[code].status);
      expect(err.message).toBe(ERRORS[code].meaning);
      expect(err.code).toBe(code);
    }
  });

  describe('every error code literal raised in src/ and lib/ is registered', () => {
    const found = FILES.flatMap(({ file, text }) => codesIn(text).map((f) => ({ ...f, file })));

    it('the scan finds a healthy number of codes (it cannot pass vacuously)', () => {
      expect(FILES.length).toBeGreaterThan(30);
      const distinct = new Set(found.map((f) => f.code));
      expect(distinct.size).toBeGreaterThan(10);
      // each way of writing a code is seen at least once
      for (const how of ['new AppError', 'super', 'code:', 'ErrorCode.X', 'XErrorCode.X', 'errors: [...]']) {
        expect(found.some((f) => f.how === how), how).toBe(true);
      }
      // codes known to be raised in those ways are among the findings
      for (const code of ['WORKER_NOT_RUNNING', 'IPC_TIMEOUT', 'TIMEOUT', 'MIGRATION_FAILED', 'WEBHOOK_TIMEOUT', 'TOO_MANY_ATTEMPTS', 'PATH_OUTSIDE_STORAGE']) {
        expect(distinct.has(code), code).toBe(true);
      }
    });

    it('every code found is in ERRORS', () => {
      const unregistered = found.filter((f) => !isRegistered(f.code)).map((f) => `${f.file}: ${f.code} (${f.how})`);
      expect(unregistered).toEqual([]);
    });

    it('every member of a *ErrorCode map is registered', () => {
      expect(MAPS.size).toBeGreaterThan(0);
      for (const [name, members] of MAPS) {
        expect(members.size, name).toBeGreaterThan(0);
        for (const code of members.values()) expect(isRegistered(code), `${name}: ${code}`).toBe(true);
      }
    });

    it('the scan itself tells registered from unregistered codes', () => {
      const sample = codesIn(`throw new AppError('NO_SUCH_CODE'); super('ALSO_NOT_OURS', m); x({ code: 'INSTANCE_NOT_FOUND' });`);
      expect(sample.map((f) => [f.code, isRegistered(f.code)])).toEqual([
        ['NO_SUCH_CODE', false],
        ['ALSO_NOT_OURS', false],
        ['INSTANCE_NOT_FOUND', true],
      ]);
    });
  });

  describe("every route file's thrown codes are registered", () => {
    const routes = FILES.filter((f) => f.file.startsWith(join('src', 'api', 'routes')) || f.file === join('src', 'api', 'auth.ts'));

    it('finds the route files and the errors they throw', () => {
      expect(routes.length).toBeGreaterThanOrEqual(5);
      expect(CLASSES.get('InstanceNotFoundError')).toBe('INSTANCE_NOT_FOUND');
      expect(CLASSES.get('WorkerStartError')).toBe('WORKER_START_FAILED');
    });

    it.each(sources(join('src', 'api', 'routes')).map((f) => [f.file, f.text] as const))('%s', (_file, text) => {
      const literal = codesIn(text).map((f) => f.code);
      // errors thrown or passed on by class: `throw new XError(`, `next(new XError(`
      const byClass = [...text.matchAll(/new (\w+Error)\(/g)].map((m) => m[1]!).filter((c) => CLASSES.has(c)).map((c) => CLASSES.get(c)!);
      for (const code of [...literal, ...byClass]) expect(isRegistered(code), code).toBe(true);
    });

    it('the codes the routes throw together are many and all registered', () => {
      const all = routes.flatMap(({ text }) => [
        ...codesIn(text).map((f) => f.code),
        ...[...text.matchAll(/new (\w+Error)\(/g)].map((m) => CLASSES.get(m[1]!)).filter((c): c is string => c !== undefined),
      ]);
      const distinct = new Set(all);
      expect(distinct.size).toBeGreaterThanOrEqual(5);
      expect([...distinct].filter((c) => !isRegistered(c))).toEqual([]);
    });
  });
});
