/*
 * The OpenAPI document, generated from the zod schemas the routes validate with
 * (src/api/schemas.ts), so the two cannot drift. Long because it is a declarative list: one
 * registration per operation (the message routes' in openapi-messages.ts), each with its parameters, answers and error codes.
 */
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import {
  apiKeyCreated,
  apiKeyList,
  apiKeyRevoked,
  createInstanceBody,
  createKeyBody,
  demoDone,
  demoParams,
  failedWebhookList,
  failedWebhooksQuery,
  healthCheckQuery,
  healthCheckResult,
  healthOverview,
  idParams,
  instanceDetails,
  instanceEnvelope,
  instanceList,
  instanceRemoved,
  instanceWritten,
  keyParams,
  liveness,
  memoryReport,
  nodeAction,
  nodeIdParams,
  nodeList,
  pairingCodeBody,
  pairingCodeView,
  patchInstanceBody,
  qrView,
  streamToken,
  webhookIdParams,
  webhookRetried,
  webhookSecretView,
} from './schemas.js';
import { MESSAGE_OPERATIONS } from './openapi-messages.js';
import { API_KEY, BODY, ID, json, operation, STREAM_TOKEN, TAGS, WITH_KEY, type ApiOperation } from './openapi-operation.js';
import type { ErrorCode } from '../errors/index.js';

export type { ApiOperation } from './openapi-operation.js';

/*
 * The OpenAPI 3 document, generated from the zod schemas in ./schemas.ts: the request schemas
 * here are the objects the routes parse with, so what is documented is what is enforced. Every
 * route of src/api/app.ts and src/api/routes/ is registered below; tests check both directions
 * (every documented route answers, and the answers match the documented schemas) and lint the
 * result with Redocly's recommended rules.
 */

const instanceAction = (action: string, operationId: string, summary: string, description: string, errors: ErrorCode[]): ApiOperation =>
  operation({
    method: 'post',
    path: `/api/instance/{id}/${action}`,
    operationId,
    summary,
    description,
    tag: 'instances',
    request: { params: idParams },
    responses: { 200: json('The instance afterwards.', instanceEnvelope) },
    errors: [...ID, 'SHUTTING_DOWN', ...errors],
  });

/** Every route the app serves, in the order of the document. */
export const API_OPERATIONS: readonly ApiOperation[] = [
  operation({
    method: 'get',
    path: '/healthz',
    operationId: 'getLiveness',
    summary: 'Liveness: the process answers (the database is reported, not required)',
    description:
      'For process managers and load balancers: 200 while the process answers, also through a database outage (the fleet keeps its sessions up and records what happened when the database is back). Needs no key and tells nothing else.',
    tag: 'health',
    security: [],
    responses: {
      200: json('Alive.', liveness),
      '4XX': { description: 'The HTTP server refused a malformed request (400 Bad Request, 431 Request Header Fields Too Large); no body.' },
    },
  }),
  operation({
    method: 'post',
    path: '/api/instances',
    operationId: 'createInstance',
    summary: 'Create an instance (and start it, when enabled)',
    tag: 'instances',
    description: 'Admin key only. With a `webhookUrl`, the answer carries the new webhook secret, once.',
    request: { body: { required: true, content: { 'application/json': { schema: createInstanceBody } } } },
    responses: { 201: json('Created.', instanceWritten) },
    errors: [...BODY, 'INSTANCE_EXISTS', 'INSTANCE_LIMIT', 'SHUTTING_DOWN', 'DATABASE_UNAVAILABLE'],
  }),
  operation({
    method: 'get',
    path: '/api/instances',
    operationId: 'listInstances',
    summary: 'List every instance with its live status',
    description: 'With the database away it still answers (`database: "down"`), from the live view and the last rows read.',
    tag: 'instances',
    responses: { 200: json('Every instance.', instanceList) },
  }),
  operation({
    method: 'get',
    path: '/api/instance/{id}/details',
    operationId: 'getInstanceDetails',
    summary: 'One instance in full: row, live status, health, worker, phone, memory, last 20 events',
    tag: 'instances',
    request: { params: idParams },
    responses: { 200: json('The instance in full.', instanceDetails) },
    errors: ID,
  }),
  instanceAction('enable', 'enableInstance', 'Mark the instance to run, and start it', 'Idempotent; the change is recorded.', ['DATABASE_UNAVAILABLE', 'WORKER_START_FAILED']),
  instanceAction('disable', 'disableInstance', 'Stop the instance and keep it stopped', 'Idempotent; the session stays on disk.', ['DATABASE_UNAVAILABLE']),
  instanceAction('restart', 'restartInstance', 'Stop and start the worker', 'The saved session comes back without a QR.', ['WORKER_START_FAILED']),
  instanceAction('logout', 'logoutInstance', 'Unlink the phone and forget the session', 'With no worker running, the saved session is wiped directly.', [
    'IPC_CLOSED',
    'IPC_TIMEOUT',
  ]),
  operation({
    method: 'delete',
    path: '/api/instance/{id}',
    operationId: 'deleteInstance',
    summary: 'Stop the instance, wipe its session and delete it',
    tag: 'instances',
    request: { params: idParams },
    responses: { 200: json('Deleted.', instanceRemoved) },
    errors: [...ID, 'SHUTTING_DOWN', 'DATABASE_UNAVAILABLE'],
  }),
  operation({
    method: 'patch',
    path: '/api/instance/{id}',
    operationId: 'updateInstance',
    summary: "Change an instance's webhook URL (null or \"\" clears it)",
    description:
      "Recorded as one change with its event. A new URL gets a new webhook secret, in the answer once. Set with an instance's own key, the URL may not point at a loopback, private, link-local, CGNAT, unspecified or metadata address, nor at a name resolving to one (WEBHOOK_URL_FORBIDDEN); each delivery checks it again when it connects.",
    tag: 'instances',
    request: { params: idParams, body: { required: true, content: { 'application/json': { schema: patchInstanceBody } } } },
    responses: { 200: json('The instance afterwards (with `webhookSecret` when a URL was set).', instanceWritten) },
    errors: [...ID, ...BODY, 'WEBHOOK_URL_FORBIDDEN', 'SHUTTING_DOWN'],
  }),
  operation({
    method: 'post',
    path: '/api/instance/{id}/webhook-secret',
    operationId: 'rotateWebhookSecret',
    summary: "Replace the instance's webhook secret",
    description: 'The new secret is in the answer, once. Deliveries still queued are signed with it when they are sent.',
    tag: 'webhooks',
    request: { params: idParams },
    responses: { 200: json('The new secret.', webhookSecretView) },
    errors: [...ID, 'WEBHOOK_NOT_SET', 'SHUTTING_DOWN'],
  }),
  operation({
    method: 'post',
    path: '/api/instance/{id}/keys',
    operationId: 'createApiKey',
    summary: 'Create an API key that reaches this instance only',
    description: 'Admin key only. The key is in the answer once; only its SHA-256 is stored.',
    tag: 'keys',
    request: { params: idParams, body: { required: false, content: { 'application/json': { schema: createKeyBody } } } },
    responses: { 201: json('The key, shown this once.', apiKeyCreated) },
    errors: [...ID, ...BODY, 'SHUTTING_DOWN'],
  }),
  operation({
    method: 'get',
    path: '/api/instance/{id}/keys',
    operationId: 'listApiKeys',
    summary: "The instance's API keys (never the keys themselves)",
    description: 'Admin key only.',
    tag: 'keys',
    request: { params: idParams },
    responses: { 200: json('The keys.', apiKeyList) },
    errors: ID,
  }),
  operation({
    method: 'delete',
    path: '/api/instance/{id}/keys/{keyId}',
    operationId: 'revokeApiKey',
    summary: 'Revoke an API key',
    description: 'Admin key only. The key stops working at once on this supervisor (within 30 s on others sharing the database).',
    tag: 'keys',
    request: { params: keyParams },
    responses: { 200: json('Revoked.', apiKeyRevoked) },
    errors: [...ID, 'KEY_NOT_FOUND', 'SHUTTING_DOWN'],
  }),
  operation({
    method: 'get',
    path: '/api/instance/{id}/qr',
    operationId: 'getInstanceQr',
    summary: 'The current QR code, as JSON or PNG',
    description: 'Starts a worker idled by QR_IDLE_TIMEOUT_MS and waits up to 20 s for its QR. Send `Accept: image/png` for the image.',
    tag: 'linking',
    request: { params: idParams },
    responses: {
      200: {
        description: 'The QR code.',
        content: { 'application/json': { schema: qrView }, 'image/png': { schema: z.string().meta({ format: 'binary' }) } },
      },
    },
    errors: [...ID, 'ALREADY_CONNECTED', 'INSTANCE_DISABLED', 'INSTANCE_BLOCKED', 'QR_NOT_READY', 'WORKER_START_FAILED'],
  }),
  operation({
    method: 'post',
    path: '/api/instance/{id}/pairing-code',
    operationId: 'requestPairingCode',
    summary: 'A pairing code to link a phone by its number',
    description: 'At most PAIRING_MAX_ATTEMPTS codes per PAIRING_WINDOW_MS per instance. The code is valid for a minute.',
    tag: 'linking',
    request: { params: idParams, body: { required: true, content: { 'application/json': { schema: pairingCodeBody } } } },
    responses: { 200: json('The code, its expiry and the attempts used.', pairingCodeView) },
    errors: [...ID, ...BODY, 'ALREADY_CONNECTED', 'INSTANCE_DISABLED', 'INSTANCE_BLOCKED', 'WORKER_NOT_RUNNING', 'PAIRING_LIMIT', 'QR_NOT_READY', 'SHUTTING_DOWN', 'DATABASE_UNAVAILABLE', 'IPC_CLOSED', 'IPC_TIMEOUT'],
  }),
  operation({
    method: 'get',
    path: '/api/nodes',
    operationId: 'listNodes',
    summary: 'The nodes sharing this database, their state, load and capacity',
    description: 'Admin key only. With CLUSTER=off, this supervisor alone.',
    tag: 'nodes',
    responses: { 200: json('Every node that ever ran against this database.', nodeList) },
  }),
  operation({
    method: 'post',
    path: '/api/nodes/{id}/drain',
    operationId: 'drainNode',
    summary: "Hand every instance of a node over to the others (maintenance)",
    description: 'Admin key only. Answers 202 at once; the node stops taking instances and hands each over (final session backup, stop, lease given back), and GET /api/nodes shows its load fall. Sent to any node: it reaches the one named.',
    tag: 'nodes',
    request: { params: nodeIdParams },
    responses: { 202: json('Draining.', nodeAction) },
    errors: ['VALIDATION_FAILED', 'NODE_NOT_FOUND', 'CLUSTER_OFF', 'OWNER_UNREACHABLE', 'SHUTTING_DOWN'],
  }),
  operation({
    method: 'post',
    path: '/api/nodes/{id}/resume',
    operationId: 'resumeNode',
    summary: 'End a drain: the node takes instances again',
    tag: 'nodes',
    request: { params: nodeIdParams },
    responses: { 202: json('Up again.', nodeAction) },
    errors: ['VALIDATION_FAILED', 'NODE_NOT_FOUND', 'CLUSTER_OFF', 'OWNER_UNREACHABLE', 'SHUTTING_DOWN'],
  }),
  operation({
    method: 'get',
    path: '/api/health',
    operationId: 'getHealth',
    summary: 'The fleet overview: database, instances by status and health, check loops, uptime, version',
    tag: 'health',
    responses: { 200: json('The overview.', healthOverview) },
  }),
  operation({
    method: 'post',
    path: '/api/health/check',
    operationId: 'runHealthCheck',
    summary: 'Run the health check now (and the deep one with ?deep=1)',
    tag: 'health',
    request: { query: healthCheckQuery },
    responses: { 200: json("Every instance's verdict.", healthCheckResult) },
    errors: ['VALIDATION_FAILED', 'SHUTTING_DOWN'],
  }),
  operation({
    method: 'get',
    path: '/api/memory/report',
    operationId: 'getMemoryReport',
    summary: 'Memory per instance and for the fleet, from the latest samples',
    tag: 'health',
    responses: { 200: json('The report.', memoryReport) },
  }),
  operation({
    method: 'post',
    path: '/api/events/token',
    operationId: 'createEventStreamToken',
    summary: 'A short-lived token to open the event stream with EventSource',
    description: 'EventSource cannot send headers: open `/api/events?token=…` with this token instead. It opens one stream and expires after SSE_TOKEN_TTL_MS (default 60 s): fetch a new one for each connection.',
    tag: 'events',
    responses: { 200: json('The token.', streamToken) },
  }),
  operation({
    method: 'get',
    path: '/api/events',
    operationId: 'streamEvents',
    summary: 'Server-Sent Events of status, QR, health and memory alerts',
    description:
      'Each event is `event: <name>` and `data: <JSON payload>`, with a keep-alive comment every 15 s. Authenticated by X-API-Key, or by `?token=` from POST /api/events/token (UNAUTHORIZED when the token is unknown, already used or expired). At most SSE_MAX_STREAMS streams are open at once; a reader that falls 1 MiB behind is disconnected (reconnect with a new token).',
    tag: 'events',
    security: [{ [API_KEY]: [] }, { [STREAM_TOKEN]: [] }],
    errors: ['TOO_MANY_STREAMS'],
    responses: { 200: { description: 'The stream, open until the client leaves.', content: { 'text/event-stream': { schema: z.string() } } } },
  }),
  operation({
    method: 'get',
    path: '/api/webhooks/failed',
    operationId: 'listFailedWebhooks',
    summary: 'Dead-lettered webhooks, newest first',
    tag: 'webhooks',
    request: { query: failedWebhooksQuery },
    responses: { 200: json('The dead-lettered webhooks.', failedWebhookList) },
    errors: ['VALIDATION_FAILED'],
  }),
  operation({
    method: 'get',
    path: '/api/instance/{id}/webhooks/failed',
    operationId: 'listInstanceFailedWebhooks',
    summary: "Dead-lettered webhooks bound for this instance's own URL, newest first",
    description: 'With an instance\'s own key, `lastError` is the receiver\'s HTTP status or "unreachable", never the network detail.',
    tag: 'webhooks',
    request: { params: idParams, query: failedWebhooksQuery },
    responses: { 200: json('The dead-lettered webhooks.', failedWebhookList) },
    errors: ID,
  }),
  operation({
    method: 'post',
    path: '/api/webhooks/{id}/retry',
    operationId: 'retryWebhook',
    summary: 'Send a dead-lettered webhook again',
    tag: 'webhooks',
    request: { params: webhookIdParams },
    responses: { 200: json('Queued again with a fresh attempt budget.', webhookRetried) },
    errors: ['VALIDATION_FAILED', 'WEBHOOK_NOT_DEAD', 'SHUTTING_DOWN'],
  }),
  ...MESSAGE_OPERATIONS,
  operation({
    method: 'post',
    path: '/api/demo/{id}/{action}',
    operationId: 'runDemoAction',
    summary: 'Demo mode only: make the fake WhatsApp Web of an instance scan, log out, crash, …',
    description: 'Served only when WA_FLEET_FAKE_WEB is on; elsewhere the route does not exist (404 NOT_FOUND).',
    tag: 'demo',
    request: { params: demoParams },
    responses: { 200: json('Done.', demoDone) },
    errors: [...ID, 'NOT_FOUND', 'DEMO_MODE_OFF', 'WORKER_NOT_RUNNING', 'SHUTTING_DOWN', 'IPC_CLOSED', 'IPC_TIMEOUT'],
  }),
  operation({
    method: 'get',
    path: '/api/openapi.json',
    operationId: 'getOpenApiDocument',
    summary: 'This document',
    tag: 'meta',
    responses: { 200: json('The OpenAPI 3.1 document.', z.record(z.string(), z.unknown())) },
  }),
  operation({
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    summary: 'Prometheus metrics',
    tag: 'meta',
    responses: { 200: { description: 'The Prometheus text exposition format.', content: { 'text/plain': { schema: z.string() } } } },
  }),
];

type GeneratedDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;
export type OpenApiDocument = GeneratedDocument & { paths: NonNullable<GeneratedDocument['paths']> };

/** The OpenAPI 3.1 document of the API, generated from API_OPERATIONS and the schemas they name. */
export function openApiDocument(version: string): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', API_KEY, {
    type: 'apiKey',
    in: 'header',
    name: 'X-API-Key',
    description: "API_KEY from the environment (everything), or an instance's own key from POST /api/instance/{id}/keys (that instance's routes only).",
  });
  registry.registerComponent('securitySchemes', STREAM_TOKEN, {
    type: 'apiKey',
    in: 'query',
    name: 'token',
    description: 'From POST /api/events/token; accepted by GET /api/events only.',
  });
  for (const op of API_OPERATIONS) registry.registerPath(op.config);
  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'wa-fleet',
      version,
      description:
        'Supervisor of a fleet of WhatsApp Web sessions (whatsapp-web.js, one worker process per instance). ' +
        'Every route but /healthz needs X-API-Key. Errors are `{"error": {"code", "message"}}`.',
      license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
    },
    servers: [{ url: '/', description: 'This supervisor' }],
    security: WITH_KEY,
    tags: TAGS,
  });
  return { ...document, paths: document.paths ?? {} };
}
