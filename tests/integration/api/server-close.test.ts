import { describe, expect, it } from 'vitest';
import { startStandInApi } from '../../support/api.js';

describe('closing the HTTP server', () => {
  it('does not wait for an open event stream: it is cut after the grace period', async () => {
    const setup = await startStandInApi();
    try {
      const res = await fetch(`${setup.api.base}/api/events`, { headers: { 'x-api-key': setup.api.key } });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      await reader.read();
      const started = Date.now();
      await setup.api.close();
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(1_900);
      expect(took).toBeLessThan(5_000);
      // The client sees its stream end (done, or an error for the cut connection).
      const ended = await reader.read().then((r) => r.done, () => true);
      expect(ended).toBe(true);
    } finally {
      await setup.fleet.stop();
      await setup.db.drop();
    }
  });
});
