import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { runAdmission, verdicts, verdictTable } from '../../scripts/bench/admission.js';

const BUILT = join(PACKAGE_ROOT, 'dist/src/main.js');

/**
 * The admission must-show at a size two cores afford (the 40-instance run is
 * `npm run bench:admission`, same harness): the built supervisor in demo mode, real workers and
 * Chromium, 8 creates within one second with LAUNCH_CONCURRENCY=2 and a cap that fits about 3.
 * Throughout: no 5xx, /api/health under 2 s, the tree's measured PSS never above the cap plus one
 * instance's cost, never more than 2 instances starting at once; the instances that do not fit
 * wait with the admission reason, then all reach QR in turn as the ones at QR are removed.
 */
describe('admission (e2e, built supervisor)', () => {
  it('8 creates in one second: bounded launches, memory within the cap, the rest wait with the reason, then all reach QR', { timeout: 600_000 }, async () => {
    expect(existsSync(BUILT), `${BUILT} missing: run npm run build`).toBe(true);
    const o = await runAdmission({
      instances: 8,
      launchConcurrency: 2,
      capMb: 450,
      expectedMb: 200,
      observeMs: 60_000,
      boundMs: 300_000,
      expectAllQr: false,
      removeToMakeRoom: true,
    });
    const list = verdicts(o);
    const table = verdictTable(list);
    expect(list.filter((v) => !v.ok), table).toEqual([]);
    // Some did wait, and for memory, with the figures in the reason.
    expect(o.maxWaiting, table).toBeGreaterThan(0);
    expect([...o.reasons].some((r) => r.startsWith('fleet memory')), [...o.reasons].join('; ')).toBe(true);
    expect(o.allQrMs, table).not.toBeNull();
  });
});
