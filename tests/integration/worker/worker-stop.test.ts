import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerHandle } from '../../../src/worker/handle.js';
import { WorkerEvent, type WorkerInit } from '../../../src/worker/protocol.js';
import { findProcessesWithArg } from '../../support/processes.js';
import { waitFor } from '../../support/webhook-receiver.js';

const ENTRY = fileURLToPath(new URL('./fixtures/browser-owning-worker.ts', import.meta.url));
const marker = `browser-of-a-dead-worker-${randomUUID()}`;
const browsers = () => findProcessesWithArg(marker);

afterEach(() => {
  for (const { pid } of browsers()) process.kill(pid, 'SIGKILL');
});

describe('stopping a worker that already died', () => {
  it('kills the browser it left behind (still writing to the profile otherwise)', async () => {
    let launched!: () => void;
    const browserKnown = new Promise<void>((resolve) => (launched = resolve));
    const worker = await WorkerHandle.start({
      init: { instanceId: 'w-1', fakeScenario: { marker } } as unknown as WorkerInit,
      startTimeoutMs: 15_000,
      entry: ENTRY,
      onEvent: (event) => event === WorkerEvent.BROWSER_LAUNCHED && launched(),
    });
    await browserKnown;
    expect(worker.browserPid).not.toBeNull();
    process.kill(worker.pid!, 'SIGKILL');
    await worker.exited;
    // The worker's death alone does not end its browser: this is the state stop() is called in.
    expect(browsers().map((p) => p.pid)).toEqual([worker.browserPid]);
    await worker.stop(1_000);
    await waitFor(() => browsers().length === 0, 'the orphaned browser gone', 5_000);
  });
});
