import { describe, expect, it } from 'vitest';
import { lives, soakFailures, soakVerdict, type InstanceOutcome, type SoakOutcomeInput } from '../../../scripts/soak/verdict.js';

const MIB = 1024 ** 2;
const line = (n: number, slopeMiBPerMin: number, pid = 1, t0 = 0) =>
  Array.from({ length: n }, (_, i) => ({ t: t0 + i * 10_000, v: (100 + (slopeMiBPerMin * i) / 6) * MIB, pid }));
const flat = soakVerdict(line(30, 0));
const growing = soakVerdict(line(30, 5));
const tooShort = soakVerdict(line(2, 0));

const instance = (over: Partial<InstanceOutcome> = {}): InstanceOutcome => ({ name: 'soak-1', lives: [flat], restarts: 0, notConnected: 0, missing: 0, ...over });
const input = (over: Partial<SoakOutcomeInput> = {}): SoakOutcomeInput => ({ supervisor: flat, instances: [instance()], apiFailures: 0, interrupted: false, ...over });

describe('soakFailures', () => {
  it('passes a run where nothing grew, restarted, disconnected or failed', () => {
    expect(growing.growing).toBe(true);
    expect(flat.growing).toBe(false);
    expect(soakFailures(input())).toEqual([]);
  });

  it('fails an instance whose memory grows', () => {
    expect(soakFailures(input({ instances: [instance({ lives: [growing] })] }))).toEqual([expect.stringMatching(/^soak-1: PSS GROWING in 1 of 1 worker lives/)]);
  });

  it('fails a growing supervisor, and one too short to judge', () => {
    expect(soakFailures(input({ supervisor: growing }))[0]).toMatch(/^supervisor PSS GROWING/);
    expect(soakFailures(input({ supervisor: tooShort }))[0]).toMatch(/^supervisor not judged \(2 samples, 4 needed\)/);
  });

  it('fails an instance with no judged life: a soak that saw nothing proved nothing', () => {
    expect(soakFailures(input({ instances: [instance({ lives: [tooShort] })] }))).toEqual(['soak-1: not judged (2 samples, 4 needed)']);
    expect(soakFailures(input({ instances: [instance({ lives: [] })] }))).toEqual(['soak-1: not judged (no samples)']);
  });

  it('fails restarts, samples not CONNECTED, ticks with nothing to measure, API failures and an interrupted run', () => {
    const failures = soakFailures(input({ instances: [instance({ restarts: 2, notConnected: 3, missing: 1 })], apiFailures: 4, interrupted: true }));
    expect(failures).toEqual([
      'interrupted before its planned end',
      'soak-1: worker restarted 2× at steady state',
      'soak-1: 3 samples not CONNECTED',
      'soak-1: 1 ticks with no worker to measure',
      '4 API calls failed',
    ]);
  });
});

describe('lives', () => {
  it('cuts a series where the worker pid changes', () => {
    const s = [...line(3, 0, 7), ...line(2, 0, 8, 30_000), ...line(1, 0, 7, 50_000)];
    expect(lives(s).map((l) => [l[0]!.pid, l.length])).toEqual([[7, 3], [8, 2], [7, 1]]);
    expect(lives([])).toEqual([]);
  });

  it('finds the leak that restarts keep resetting: flat as one line, growing per life', () => {
    // Six lives of 12 samples each, each rising 5 MiB/min from the same base, then restarted.
    const saw = [0, 1, 2, 3, 4, 5].flatMap((k) => line(12, 5, 100 + k, k * 120_000));
    const whole = soakVerdict(saw.map(({ t, v }) => ({ t, v })));
    expect(whole.growing).toBe(false);
    const perLife = lives(saw).map((l) => soakVerdict(l.map(({ t, v }) => ({ t, v }))));
    expect(perLife.every((v) => v.growing)).toBe(true);
  });
});
