import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_PAGE_PATH } from '../../../src/demo/fake-web.js';
import { PACKAGE_ROOT } from '../../../src/paths.js';
import { copyTree } from '../../support/tree-copy.js';

const execFileAsync = promisify(execFile);

/** execFile that, on failure, says what the command printed (tsc's errors, npm's complaint). */
async function run(cmd: string, args: string[], opts: Parameters<typeof execFileAsync>[2]): Promise<{ stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, args, { encoding: 'utf8', ...opts });
    return { stdout: String(stdout), stderr: String(stderr) };
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`.slice(0, 8000));
  }
}

/** `npm run build` and `npm pack` as they are in package.json, run in a copy of the working tree. */
const tree = copyTree('package-contents');
const COPY = tree.dir;
const npmEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };

/** Every file below `dir`, as paths relative to it with '/' separators. */
function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}

/** Relative module specifiers of `import`/`export … from`/`import()` in a source or compiled file. */
function relativeImports(code: string): string[] {
  return [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
}

/** Files under `roots` (relative to `base`) that import something under `forbidden` top-level folders of `base`. */
function importsInto(base: string, roots: string[], forbidden: string[], ext: RegExp): string[] {
  const bad: string[] = [];
  for (const root of roots) {
    for (const file of listFiles(join(base, root)).filter((f) => ext.test(f))) {
      const abs = join(base, root, file);
      for (const spec of relativeImports(readFileSync(abs, 'utf8'))) {
        const target = relative(base, join(dirname(abs), spec)).split(sep)[0];
        if (forbidden.includes(target!)) bad.push(`${root}/${file} → ${spec}`);
      }
    }
  }
  return bad;
}

let packed: string[] = [];
let buildOutput = '';

beforeAll(async () => {
  // What an older build left behind: the build must start from an empty dist/.
  mkdirSync(join(COPY, 'dist/tests/support/fake-wa-web'), { recursive: true });
  writeFileSync(join(COPY, 'dist/tests/support/fake-wa-web/page.html'), 'stale');
  mkdirSync(join(COPY, 'dist/scripts'), { recursive: true });
  writeFileSync(join(COPY, 'dist/scripts/chaos.js'), 'stale');

  const build = await run('npm', ['run', 'build'], { cwd: COPY, env: npmEnv, timeout: 170_000 });
  buildOutput = build.stdout + build.stderr;
  const pack = await run('npm', ['pack', '--dry-run', '--json'], { cwd: COPY, env: npmEnv, timeout: 60_000, maxBuffer: 32 << 20 });
  packed = (JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
}, 240_000);

afterAll(() => tree.remove());

describe('npm run build', () => {
  it('compiles only src/ and lib/, starting from an empty dist/', () => {
    expect(readdirSync(join(COPY, 'dist')).sort(), buildOutput).toEqual(['lib', 'src']);
    expect(existsSync(join(COPY, 'dist/tests'))).toBe(false);
    expect(existsSync(join(COPY, 'dist/scripts'))).toBe(false);
    expect(listFiles(join(COPY, 'dist')).filter((f) => /\.(test|spec)\.[cm]?[jt]s$/.test(f))).toEqual([]);
  });

  it('puts the fake WhatsApp Web page next to its compiled module', () => {
    const page = join(COPY, 'dist/src/demo/page.html');
    expect(existsSync(page)).toBe(true);
    expect(readFileSync(page, 'utf8')).toBe(readFileSync(join(COPY, 'src/demo/page.html'), 'utf8'));
    expect(existsSync(join(COPY, 'dist/src/demo/fake-web.js'))).toBe(true);
  });

  it('lets the built worker find the page at run time (node dist/…, no tsx)', async () => {
    const cacheDir = join(COPY, 'fake-web-cache');
    const code = `
      const { webSourceOptions } = await import(${JSON.stringify(join(COPY, 'dist/src/worker/web-source.js'))});
      const { FAKE_PAGE_PATH } = await import(${JSON.stringify(join(COPY, 'dist/src/demo/fake-web.js'))});
      const opts = webSourceOptions({ instanceId: 'pkg-1', sessionRoot: ${JSON.stringify(cacheDir)}, fakeWeb: true, fakeScenario: {} });
      console.log(JSON.stringify({ page: FAKE_PAGE_PATH, webVersion: opts.webVersion, cache: opts.webVersionCache }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: '/', timeout: 30_000 });
    const out = JSON.parse(stdout) as { page: string; webVersion: string; cache: { type: string; path: string } };
    expect(out.page).toBe(join(COPY, 'dist/src/demo/page.html'));
    expect(out.cache.type).toBe('local');
    const served = readFileSync(join(out.cache.path, `${out.webVersion}.html`), 'utf8');
    expect(served).toContain(out.webVersion);
  });

  it('compiled code imports nothing from tests/ or scripts/', () => {
    expect(importsInto(join(COPY, 'dist'), ['src', 'lib'], ['tests', 'scripts'], /\.js$/)).toEqual([]);
  });
});

describe('sources', () => {
  it('nothing under src/ or lib/ imports from tests/ or scripts/', () => {
    expect(importsInto(PACKAGE_ROOT, ['src', 'lib'], ['tests', 'scripts'], /\.[cm]?ts$/)).toEqual([]);
  });

  it('the page is found from sources too (tsx, tests)', () => {
    expect(FAKE_PAGE_PATH).toBe(join(PACKAGE_ROOT, 'src/demo/page.html'));
    expect(existsSync(FAKE_PAGE_PATH)).toBe(true);
  });
});

describe('npm pack', () => {
  it('ships no test file and nothing from tests/', () => {
    expect(packed.length).toBeGreaterThan(0);
    expect(packed.filter((p) => p.startsWith('tests/') || p.startsWith('dist/tests/'))).toEqual([]);
    expect(packed.filter((p) => /\.(test|spec)\.[cm]?[jt]s$/.test(p))).toEqual([]);
    expect(packed.filter((p) => p.startsWith('dist/scripts/'))).toEqual([]);
  });

  it('ships what the built supervisor needs at run time', () => {
    for (const path of [
      'package.json',
      'dist/src/main.js',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/worker/main.js',
      'dist/src/db/migrate-cli.js',
      'dist/src/demo/fake-web.js',
      'dist/src/demo/page.html',
      'public/index.html',
      'ecosystem.config.cjs',
      '.env.example',
      'scripts/ensure-mysql.sh',
      'scripts/ensure-chromium.sh',
    ]) {
      expect(packed, path).toContain(path);
    }
    for (const sql of readdirSync(join(COPY, 'sql'))) expect(packed).toContain(`sql/${sql}`);
    for (const file of listFiles(join(COPY, 'dist/lib')).filter((f) => f.endsWith('.js'))) expect(packed).toContain(`dist/lib/${file}`);
  });
});
