import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandInApi, type StandInApi } from '../../support/api.js';
import { waitForStatus } from '../../support/fleet.js';
import { documentedRoutes } from '../../support/openapi-routes.js';

let setup: StandInApi;
let api: StandInApi['api'];

beforeAll(async () => {
  setup = await startStandInApi();
  api = setup.api;
  await setup.fleet.create('doc-1');
  await waitForStatus(setup.fleet, 'doc-1', 'QR_REQUIRED');
});
afterAll(() => setup?.close());

const BODIES: Record<string, unknown> = {
  'POST /api/instances': { id: 'doc-2' },
  'POST /api/instance/{id}/pairing-code': { phone: '15550001111' },
};

describe('the OpenAPI document', () => {
  it('is served and names every route', async () => {
    const doc = await api.call('GET', '/api/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.json.openapi).toMatch(/^3\./);
  });

  // Destructive routes go last so the others still find their instance.
  const routes = documentedRoutes({ id: 'doc-1', action: 'scan' }).sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
  it.each(routes.map((r) => [r.method, r.template, r]))('%s %s is answered by a route', async (_m, _t, route) => {
    if (route.template === '/api/events') {
      const controller = new AbortController();
      const res = await fetch(`${api.base}${route.path}`, { headers: { 'x-api-key': api.key }, signal: controller.signal });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      controller.abort();
      return;
    }
    const r = await api.call(route.method, route.path, BODIES[`${route.method} ${route.template}`]);
    expect(r.json?.error?.code, `${route.method} ${route.path} -> ${r.status} ${JSON.stringify(r.json)}`).not.toBe('NOT_FOUND');
    expect(r.status).toBeLessThan(500);
  });
});

describe('GET /api/health and /metrics', () => {
  it('report the check loops, and metrics name instances, loops and memory', async () => {
    const health = await api.call('GET', '/api/health');
    expect(Object.keys(health.json.loops).sort()).toEqual(['deep', 'health', 'memory', 'memorySample', 'recovery']);
    expect(health.json.loops.health).toMatchObject({ runs: expect.any(Number), skips: expect.any(Number), errors: expect.any(Number) });
    await api.call('POST', '/api/health/check');
    const metrics = await fetch(`${api.base}/metrics`, { headers: { 'x-api-key': api.key } });
    const text = await metrics.text();
    expect(text).toMatch(/wafleet_instances\{status="QR_REQUIRED"\} \d/);
    expect(text).toContain('wafleet_instances_health{health="healthy"}');
    expect(text).toMatch(/wafleet_check_runs\{loop="health"\} [1-9]/);
    expect(text).toContain('# TYPE wafleet_recoveries gauge');
    expect(text).toContain('# TYPE wafleet_instance_pss_bytes gauge');
    await api.call('POST', '/api/instances', { id: 'doc-mem' });
    const details = await api.call('GET', '/api/instance/doc-mem/details');
    expect(details.json).toHaveProperty('memory');
    expect(text).toMatch(/wafleet_api_requests_total\{method="GET",route="\/api\/health",code="200"\} [1-9]\d*/);
  });
});
