import { DEMO_ACTIONS } from './schemas.js';

/** The OpenAPI 3 description of the API, written by hand next to the routes it describes. */

const error = { $ref: '#/components/responses/Error' };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } };
const instance = { $ref: '#/components/schemas/Instance' };
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const ok = (description: string, schema: unknown = { type: 'object' }) => ({ description, ...json(schema) });

function op(summary: string, responses: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { summary, ...extra, responses: { ...responses, 400: error, 401: error, 404: error, 429: error, 503: error } };
}

const instanceAction = (summary: string) => ({
  post: op(summary, { 200: ok('the instance afterwards', { type: 'object', properties: { instance } }) }, { parameters: [idParam] }),
});

export function openApiDocument(version: string) {
  return {
    openapi: '3.0.3',
    info: { title: 'wa-fleet', version, description: 'Supervisor of a fleet of WhatsApp Web sessions. Every route but /healthz needs X-API-Key.' },
    security: [{ apiKey: [] }],
    paths: {
      '/healthz': { get: { summary: 'Liveness: process up, database reachable', security: [], responses: { 200: ok('alive'), 503: ok('database down') } } },
      '/api/instances': {
        post: op('Create an instance (started when enabled)', { 201: ok('created', { type: 'object', properties: { instance } }), 409: error, 413: error }, {
          requestBody: { required: true, ...json({ $ref: '#/components/schemas/CreateInstance' }) },
        }),
        get: op('List instances with their live status', { 200: ok('instances', { type: 'object', properties: { instances: { type: 'array', items: instance } } }) }),
      },
      '/api/instance/{id}/details': {
        get: op('Row, live status, health, reconnects, worker, linked phone, last events', { 200: ok('details') }, { parameters: [idParam] }),
      },
      '/api/instance/{id}/enable': instanceAction('Mark the instance to run, and start it'),
      '/api/instance/{id}/disable': instanceAction('Stop the instance and keep it stopped (the session stays on disk)'),
      '/api/instance/{id}/restart': instanceAction('Stop and start the worker'),
      '/api/instance/{id}/logout': instanceAction('Unlink the phone and forget the session'),
      '/api/instance/{id}': { delete: op('Stop, wipe the session, delete the instance', { 200: ok('removed') }, { parameters: [idParam] }) },
      '/api/instance/{id}/qr': {
        get: op('The current QR (starts an idled worker)', {
          200: { description: 'QR', content: { 'application/json': { schema: { type: 'object', properties: { qr: { type: 'string' }, dataUrl: { type: 'string' }, at: { type: 'string' } } } }, 'image/png': { schema: { type: 'string', format: 'binary' } } } },
          409: error,
        }, { parameters: [idParam] }),
      },
      '/api/instance/{id}/pairing-code': {
        post: op('A pairing code for linking by phone number', { 200: ok('code, expiry, attempts'), 409: error }, {
          parameters: [idParam],
          requestBody: { required: true, ...json({ type: 'object', required: ['phone'], additionalProperties: false, properties: { phone: { type: 'string', pattern: '^\\d{6,15}$' } } }) },
        }),
      },
      '/api/health': { get: op('Database, instances by status and health, uptime, version', { 200: ok('overview') }) },
      '/api/health/check': {
        post: op('Run the health check now (and the deep one with ?deep=1); returns the verdicts', { 200: ok('verdicts') }, {
          parameters: [{ name: 'deep', in: 'query', required: false, schema: { type: 'string', enum: ['0', '1', 'true', 'false'] } }],
        }),
      },
      '/api/memory/report': { get: op('Latest memory samples per instance and for the fleet', { 200: ok('report') }) },
      '/api/events': {
        get: op('Server-Sent Events of status, QR, health and memory alerts', { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } } }, {
          parameters: [{ name: 'token', in: 'query', required: false, schema: { type: 'string' }, description: 'from POST /api/events/token, for EventSource' }],
        }),
      },
      '/api/events/token': { post: op('A short-lived token for EventSource', { 200: ok('token and expiry') }) },
      '/api/webhooks/failed': {
        get: op('Dead-lettered webhooks', { 200: ok('failed') }, { parameters: [{ name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 500 } }] }),
      },
      '/api/webhooks/{id}/retry': {
        post: op('Send a dead-lettered webhook again', { 200: ok('pending again') }, { parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^\\d+$' } }] }),
      },
      '/api/demo/{id}/{action}': {
        post: op('Demo mode only: act on the fake WhatsApp Web', { 200: ok('done'), 409: error }, {
          parameters: [idParam, { name: 'action', in: 'path', required: true, schema: { type: 'string', enum: [...DEMO_ACTIONS] } }],
        }),
      },
      '/api/openapi.json': { get: op('This document', { 200: ok('OpenAPI 3') }) },
      '/metrics': { get: op('Prometheus metrics', { 200: { description: 'text/plain', content: { 'text/plain': { schema: { type: 'string' } } } } }) },
    },
    components: {
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
      responses: {
        Error: ok('error', { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } } }),
      },
      schemas: {
        CreateInstance: {
          type: 'object',
          required: ['id'],
          additionalProperties: false,
          properties: { id: idParam.schema, enabled: { type: 'boolean' }, webhookUrl: { type: 'string', format: 'uri', nullable: true } },
        },
        Instance: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            enabled: { type: 'boolean' },
            connectionStatus: { type: 'string', enum: ['INITIALIZING', 'LOADING', 'QR_REQUIRED', 'CONNECTED', 'DISCONNECTED', 'RECONNECTING', 'AUTH_FAILURE'] },
            statusReason: { type: 'string', nullable: true },
            health: { type: 'string', enum: ['healthy', 'disconnected', 'degraded', 'stuck', 'zombie', 'corrupted', 'not_found'] },
            healthReason: { type: 'string', nullable: true },
            reconnectAttempts: { type: 'integer' },
            nextReconnectAt: { type: 'string', nullable: true },
          },
        },
      },
    },
  };
}
