import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../src/paths.js';
import { startStandInApi, type StandInApi } from '../../support/api.js';

/*
 * The served OpenAPI document passes Redocly's recommended rules with no error and no warning,
 * and the typed client the tests use (tests/support/openapi-types.ts) is what openapi-typescript
 * makes of it today. After a change to the API: regenerate the types with
 *   UPDATE_OPENAPI_TYPES=1 npx vitest run tests/integration/api/openapi-lint.test.ts
 */

const REDOCLY = join(PACKAGE_ROOT, 'node_modules', '.bin', 'redocly');
const TYPES_FILE = join(PACKAGE_ROOT, 'tests', 'support', 'openapi-types.ts');
const TYPES_HEADER = `${COMMENT_HEADER}// Generated from GET /api/openapi.json by tests/integration/api/openapi-lint.test.ts (UPDATE_OPENAPI_TYPES=1 to rewrite).\n\n`;

interface LintProblem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location: Array<{ pointer: string }>;
}
interface LintReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: LintProblem[];
}

let setup: StandInApi;
let dir: string;
let doc: Record<string, any>;

beforeAll(async () => {
  setup = await startStandInApi();
  dir = mkdtempSync(join(tmpdir(), 'wa-fleet-openapi-'));
  const res = await fetch(`${setup.api.base}/api/openapi.json`, { headers: { 'x-api-key': setup.api.key } });
  expect(res.status).toBe(200);
  doc = (await res.json()) as Record<string, any>;
});
afterAll(async () => {
  await setup?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * `redocly lint` on `document`, with the recommended rules (whatever redocly.yaml may say), run
 * in a scratch folder so no config or ignore file of the repository applies. Telemetry and the
 * update check are off: no test reaches the internet.
 */
async function lint(document: unknown, name: string): Promise<LintReport> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(document, null, 2));
  const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' };
  // Exits 1 on errors (with the report on stdout all the same); the report is what counts.
  const result = await promisify(execFile)(REDOCLY, ['lint', file, '--format=json', '--extends=recommended', '--max-problems=1000'], { cwd: dir, env, timeout: 150_000 }).catch(
    (err: { stdout?: string; stderr?: string; message: string }) => {
      if (!err.stdout) throw new Error(`redocly failed: ${err.message}\n${err.stderr ?? ''}`);
      return { stdout: err.stdout, stderr: err.stderr ?? '' };
    },
  );
  const report = JSON.parse(result.stdout) as LintReport;
  expect(report.totals, result.stdout).toEqual(expect.objectContaining({ errors: expect.any(Number), warnings: expect.any(Number) }));
  return report;
}

const describeProblems = (report: LintReport) => report.problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`).join('\n');

describe('the served OpenAPI document', { timeout: 180_000 }, () => {
  it('passes redocly lint (recommended rules) with no error and no warning', async () => {
    const report = await lint(doc, 'openapi');
    expect(describeProblems(report)).toBe('');
    expect(report.totals).toEqual({ errors: 0, warnings: 0, ignored: 0 });
  });

  it('would fail the lint with a warning: the check above can fail', async () => {
    // The same document with one operationId removed: `operation-operationId` is a warning.
    const broken = structuredClone(doc);
    delete broken.paths['/api/instances'].get.operationId;
    const report = await lint(broken, 'broken');
    expect(report.totals.errors).toBe(0);
    expect(report.totals.warnings).toBe(1);
    expect(report.problems.map((p) => p.ruleId)).toEqual(['operation-operationId']);
  });

  it('is what tests/support/openapi-types.ts was generated from (the typed client cannot drift)', async () => {
    const types = TYPES_HEADER + astToString(await openapiTS(doc as Parameters<typeof openapiTS>[0], { silent: true }));
    if (process.env.UPDATE_OPENAPI_TYPES === '1') writeFileSync(TYPES_FILE, types);
    expect(readFileSync(TYPES_FILE, 'utf8'), 'regenerate with UPDATE_OPENAPI_TYPES=1 (see the top of this file)').toBe(types);
  });
});
