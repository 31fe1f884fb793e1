import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../src/paths.js';
import { CHAOS_BEGIN, CHAOS_END, chaosBlock, chaosRuns, publishChaos, RUNS_DIR, withChaosBlock } from '../../../scripts/runs/published.js';

describe('published runs', () => {
  it("the README's chaos figures are exactly what docs/runs/chaos-*.json generate (npm run runs -- readme)", () => {
    const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(CHAOS_BEGIN);
    expect(withChaosBlock(readme, chaosBlock(chaosRuns(join(PACKAGE_ROOT, RUNS_DIR))))).toBe(readme);
  });

  it('every published chaos run names its command and commit, and the README block changes when a figure does', () => {
    const runs = chaosRuns(join(PACKAGE_ROOT, RUNS_DIR));
    for (const r of runs) {
      expect(r.command).toMatch(/^npm run chaos -- /);
      expect(r.commit).toMatch(/^[0-9a-f]{12}(\+dirty)?$/);
    }
    const fake = publishChaos({
      command: 'npm run chaos -- --seed 1',
      commit: 'abcdefabcdef',
      startedAt: '2026-12-01T00:00:00.000Z',
      durationMin: 1,
      machine: 'm',
      load: 'l',
      violations: 0,
      finalViolations: [],
      evidence: { a: 1 },
      summaries: [{ kind: 'chromium_sigkill', count: 1, detection: { median: 100, p95: 100, max: 100 }, connected: { median: 5000, p95: 5000, max: 5000 }, violations: 0 }],
    });
    const block = chaosBlock([fake]);
    expect(block).toContain('| chromium_sigkill | 1 | 0.10 / 0.10 / 0.10 | 5.00 / 5.00 / 5.00 | 0 |');
    expect(chaosBlock([{ ...fake, summaries: [{ ...fake.summaries[0]!, violations: 1 }] }])).not.toBe(block);
    const readme = `a\n${CHAOS_BEGIN}\nold\n${CHAOS_END}\nb`;
    expect(withChaosBlock(readme, block)).toBe(`a\n${CHAOS_BEGIN}\n${block}\n${CHAOS_END}\nb`);
  });

  it('refuses a report written before runs named their command', () => {
    expect(() => publishChaos({ summaries: [] })).toThrow(/has no "command"/);
  });
});
