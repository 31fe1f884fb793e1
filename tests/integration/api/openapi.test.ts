import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Express } from 'express';
import type { ZodType } from 'zod';
import { createApp } from '../../../src/api/app.js';
import { API_OPERATIONS, type ApiOperation } from '../../../src/api/openapi.js';
import { Checks } from '../../../src/checks/checks.js';
import { checkSettings } from '../../../src/checks/settings.js';
import { startStandInApi, type StandInApi } from '../../support/api.js';
import { testConfig, waitForStatus } from '../../support/fleet.js';
import { silentLogger } from '../../support/logger.js';
import { documentedRoutes } from '../../support/openapi-routes.js';
import { Messages } from '../../../src/messages/messages.js';

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
  'PATCH /api/instance/{id}': { webhookUrl: 'http://127.0.0.1:9/hook' },
  'POST /api/instance/{id}/keys': { label: 'doc' },
};

function operationOf(method: string, template: string): ApiOperation {
  const op = API_OPERATIONS.find((o) => o.config.method.toUpperCase() === method && o.config.path === template);
  if (!op) throw new Error(`${method} ${template} is in the document but not in API_OPERATIONS`);
  return op;
}

/**
 * The answer matches what the document says of its status: the status is documented, an error
 * carries one of the operation's documented codes, and a JSON body parses with the documented
 * zod schema into itself (zod drops undocumented fields, so a field missing from the document
 * shows up as a difference).
 */
function expectDocumented(op: ApiOperation, status: number, body: unknown, contentType: string | null): void {
  const where = `${op.config.method.toUpperCase()} ${op.config.path} -> ${status} ${JSON.stringify(body)?.slice(0, 500)}`;
  const documented = op.config.responses[status] as { content?: Record<string, { schema: ZodType }> } | undefined;
  expect(documented, `${where}: status not documented`).toBeDefined();
  if (status >= 400) expect(op.errors, `${where}: code not documented`).toContain((body as { error?: { code?: string } })?.error?.code);
  if (!contentType?.startsWith('application/json')) return;
  const schema = documented?.content?.['application/json']?.schema;
  expect(schema, `${where}: JSON not documented`).toBeDefined();
  const parsed = schema!.safeParse(body);
  expect(parsed.error?.issues ?? [], where).toEqual([]);
  expect(parsed.data, `${where}: fields missing from the document`).toEqual(body);
}

interface RouteLayer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: RouteLayer[] };
}

/** Every method and path the express app routes (express 5's router stack, routers included), as `GET /api/instance/{id}/qr`. */
function servedRoutes(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: RouteLayer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const path = layer.route.path.replace(/:(\w+)/g, '{$1}');
        for (const method of Object.keys(layer.route.methods)) if (method !== '_all') found.push(`${method.toUpperCase()} ${path}`);
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((app as unknown as { router: { stack: RouteLayer[] } }).router.stack);
  return found.sort();
}

describe('the OpenAPI document', () => {
  it('documents every route the app serves, and nothing else', () => {
    // The app as main.ts builds it, in demo mode (so the demo route is mounted too).
    const config = testConfig(setup.db.url, '/nonexistent/sessions');
    expect(config.waFleetFakeWeb).toBe(true);
    const checks = new Checks({ fleet: setup.fleet, log: silentLogger, settings: checkSettings(config) });
    const app = createApp({ pool: setup.db.pool, fleet: setup.fleet, checks, config, log: silentLogger, version: 'test', startedAt: new Date(), shuttingDown: () => false, messages: new Messages({ fleet: setup.fleet, pool: setup.db.pool, config: config, log: silentLogger }) });
    const documented = API_OPERATIONS.map((o) => `${o.config.method.toUpperCase()} ${o.config.path}`).sort();
    expect(servedRoutes(app)).toEqual(documented);
  });

  it('is served and names every route', async () => {
    const doc = await api.call('GET', '/api/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.json.openapi).toMatch(/^3\./);
    // The served document, not just the table it is built from: the same method and path pairs.
    const served = Object.entries(doc.json.paths as Record<string, Record<string, unknown>>).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(served.sort()).toEqual(API_OPERATIONS.map((o) => `${o.config.method.toUpperCase()} ${o.config.path}`).sort());
  });

  it('gives every operation a unique camelCase operationId, a summary, a tag and security', async () => {
    const doc = (await api.call('GET', '/api/openapi.json')).json as { paths: Record<string, Record<string, Record<string, unknown>>> };
    const ids: string[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z][a-zA-Z0-9]*$/);
        expect(op.summary, `${method} ${path}`).toEqual(expect.any(String));
        expect(op.tags, `${method} ${path}`).toHaveLength(1);
        expect(op.security, `${method} ${path}`).toEqual(path === '/healthz' ? [] : expect.arrayContaining([{ apiKey: [] }]));
        ids.push(op.operationId as string);
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  // Destructive routes go last so the others still find their instance.
  const routes = documentedRoutes({ id: 'doc-1', action: 'scan' }).sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
  it.each(routes.map((r) => [r.method, r.template, r]))('%s %s is answered by a route, as documented', async (_m, _t, route) => {
    const op = operationOf(route.method, route.template);
    if (route.template === '/api/events') {
      const controller = new AbortController();
      const res = await fetch(`${api.base}${route.path}`, { headers: { 'x-api-key': api.key }, signal: controller.signal });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      expect(Object.keys((op.config.responses[200] as { content: object }).content)).toEqual(['text/event-stream']);
      controller.abort();
      return;
    }
    const r = await api.call(route.method, route.path, BODIES[`${route.method} ${route.template}`]);
    expect(r.json?.error?.code, `${route.method} ${route.path} -> ${r.status} ${JSON.stringify(r.json)}`).not.toBe('NOT_FOUND');
    expect(r.status).toBeLessThan(500);
    expectDocumented(op, r.status, r.json, r.res.headers.get('content-type'));
  });

  // After the routes above: doc-1 is deleted by then, doc-2 exists.
  it('documents the errors the routes answer', async () => {
    const cases: Array<[string, string, string, unknown?]> = [
      ['GET', '/api/instance/{id}/details', '/api/instance/nobody/details'],
      ['GET', '/api/instance/{id}/details', '/api/instance/bad%20id/details'],
      ['POST', '/api/instances', '/api/instances', { id: 'doc-2' }],
      ['POST', '/api/instances', '/api/instances', { id: 'doc-3', colour: 'red' }],
      ['POST', '/api/instance/{id}/pairing-code', '/api/instance/doc-2/pairing-code', { phone: '+1 555' }],
      ['POST', '/api/health/check', '/api/health/check?deep=maybe'],
      ['GET', '/api/webhooks/failed', '/api/webhooks/failed?limit=0'],
      ['POST', '/api/webhooks/{id}/retry', '/api/webhooks/999999/retry'],
      ['POST', '/api/demo/{id}/{action}', '/api/demo/doc-2/dance'],
      ['POST', '/api/demo/{id}/{action}', '/api/demo/nobody/scan'],
      ['PATCH', '/api/instance/{id}', '/api/instance/doc-2', { webhookUrl: 'ftp://example.com/' }],
      ['POST', '/api/instance/{id}/webhook-secret', '/api/instance/doc-2/webhook-secret'],
      ['DELETE', '/api/instance/{id}/keys/{keyId}', '/api/instance/doc-2/keys/key_0123456789abcdef'],
      ['GET', '/api/instance/{id}/keys', '/api/instance/nobody/keys'],
    ];
    for (const [method, template, path, body] of cases) {
      const r = await api.call(method, path, body);
      expect(r.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      expectDocumented(operationOf(method, template), r.status, r.json, r.res.headers.get('content-type'));
    }
    const unauthorized = await api.call('GET', '/api/instances', undefined, { 'x-api-key': 'wrong' });
    expectDocumented(operationOf('GET', '/api/instances'), unauthorized.status, unauthorized.json, unauthorized.res.headers.get('content-type'));
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
    // Series are pre-set to 0: only a count of the instance that is there proves the metric counts.
    expect(text).toMatch(/wafleet_instances\{status="QR_REQUIRED"\} [1-9]/);
    expect(text).toMatch(/wafleet_instances_health\{health="disconnected"\} [1-9]/);
    expect(text).toMatch(/wafleet_check_runs\{loop="health"\} [1-9]/);
    expect(text).toContain('# TYPE wafleet_recoveries gauge');
    expect(text).toContain('# TYPE wafleet_instance_pss_bytes gauge');
    await api.call('POST', '/api/instances', { id: 'doc-mem' });
    const details = await api.call('GET', '/api/instance/doc-mem/details');
    expect(details.json).toHaveProperty('memory');
    expect(text).toMatch(/wafleet_api_requests_total\{method="GET",route="\/api\/health",code="200"\} [1-9]\d*/);
  });
});
