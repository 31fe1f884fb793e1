import { describe, expect, it } from 'vitest';
import { forEachInstance } from '../../../src/checks/context.js';
import type { Logger } from '../../../src/logger/index.js';
import type { InstanceHandle } from '../../../src/supervisor/instance/handle.js';

function recordingLogger(): { log: Logger; warnings: Array<[string, unknown]> } {
  const warnings: Array<[string, unknown]> = [];
  const noop = () => undefined;
  const log: Logger = { error: noop, info: noop, debug: noop, warn: (message, fields) => void warnings.push([message, fields]), child: () => log };
  return { log, warnings };
}

const handles = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `i-${i}` }) as InstanceHandle);

describe('forEachInstance', () => {
  it('visits every instance in list order with at most `concurrency` at once', async () => {
    const started: string[] = [];
    let active = 0;
    let peak = 0;
    await forEachInstance(handles(12), 4, recordingLogger().log, async (handle) => {
      started.push(handle.id);
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 2));
      active--;
    });
    expect(started).toEqual(handles(12).map((h) => h.id));
    expect(peak).toBe(4);
  });

  it('logs a failing instance and still checks all the others', async () => {
    const { log, warnings } = recordingLogger();
    const visited: string[] = [];
    await forEachInstance(handles(5), 1, log, async (handle) => {
      visited.push(handle.id);
      if (handle.id === 'i-1') throw new Error('worker gone');
    });
    expect(visited).toEqual(['i-0', 'i-1', 'i-2', 'i-3', 'i-4']);
    expect(warnings).toEqual([['check failed: worker gone', { instanceId: 'i-1' }]]);
  });
});
