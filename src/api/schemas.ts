import { z } from 'zod';
import { ConnectionStatus, Health } from '../domain/instance.js';
import { ERRORS, type ErrorCode } from '../errors/index.js';

/*
 * Every shape the API reads or answers, in one place. The routes validate requests with these
 * objects and src/api/openapi.ts generates the OpenAPI document from the very same objects, so
 * the document cannot drift from what is enforced. `.meta({ id })` names a schema in the
 * document's components; `description`/`example` end up in the document too.
 */

// ---------------------------------------------------------------------------------------------
// Requests. Objects are strict: an unknown field is a client bug worth a 400, not silence.

export const instanceId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must match ^[A-Za-z0-9_-]{1,64}$')
  .meta({ description: 'The instance name: 1 to 64 letters, digits, `_` or `-`.', example: 'sales-01' });

export const idParams = z.object({ id: instanceId });

export const createInstanceBody = z
  .strictObject({
    id: instanceId,
    enabled: z.boolean().optional().meta({ description: 'Should it run; default true (it starts at once).' }),
    webhookUrl: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .max(2048)
      .nullable()
      .optional()
      .meta({ description: "Where this instance's notifications go, besides NOTIFICATION_WEBHOOK_URL." }),
  })
  .meta({ id: 'CreateInstance' });

export const pairingCodeBody = z
  .strictObject({
    phone: z
      .string()
      .regex(/^\d{6,15}$/, 'must be the phone number in international format, digits only (E.164 without +)')
      .meta({ description: 'The phone number in international format, digits only (E.164 without `+`).', example: '15551234567' }),
  })
  .meta({ id: 'PairingCodeRequest' });

export const DEMO_ACTIONS = ['scan', 'logout', 'conflict', 'unpair', 'freeze', 'crash', 'stuck', 'leak', 'release'] as const;

export const demoParams = z.object({
  id: instanceId,
  action: z.enum(DEMO_ACTIONS, `must be one of ${DEMO_ACTIONS.join(', ')}`).meta({ description: 'What the fake WhatsApp Web does.' }),
});

export const healthCheckQuery = z.object({
  deep: z.enum(['0', '1', 'true', 'false']).optional().meta({ description: '`1` or `true` also runs the deep check (page Store, socket, heap).' }),
});

export const failedWebhooksQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100).meta({ description: 'At most this many, newest first.' }),
});

export const webhookIdParams = z.object({
  id: z
    .string()
    .regex(/^\d{1,18}$/, 'must be a webhook id (digits)')
    .transform(Number)
    .meta({ description: 'The outbox row id, as `GET /api/webhooks/failed` lists it.', example: '42' }),
});

// ---------------------------------------------------------------------------------------------
// Responses: what src/api/views.ts, the routes and the checks answer.

/**
 * `schema` or null. Not `.nullable()` on a named schema: the generator would then mark the shared
 * component itself nullable (or emit an allOf that forbids null).
 */
const orNull = <T extends z.ZodType>(schema: T) => z.union([schema, z.null()]);

const timestamp = z.iso.datetime().meta({ description: 'ISO 8601, UTC.' });
const mb = z.number().meta({ description: 'Megabytes (MiB), one decimal.' });

export const connectionStatus = z.enum(ConnectionStatus).meta({ id: 'ConnectionStatus' });
export const health = z.enum(Health).meta({ id: 'Health' });
export const databaseState = z.enum(['up', 'down']).meta({ id: 'DatabaseState', description: 'Whether MySQL answered; reads come from memory while it is down.' });

export const errorResponse = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]).meta({ description: 'Stable, machine-readable: one of the registered codes (src/errors).' }),
      message: z.string().meta({ description: 'Safe to show; never a stack trace.' }),
    }),
  })
  .meta({ id: 'Error' });

export const instanceView = z
  .object({
    id: z.string(),
    enabled: z.boolean().nullable().meta({ description: 'Should it run (the operator’s intent); null when the database is away and the row was never read.' }),
    connectionStatus: orNull(connectionStatus),
    statusReason: z.string().nullable(),
    statusChangedAt: timestamp.nullable(),
    health: orNull(health),
    healthReason: z.string().nullable(),
    reconnectAttempts: z.number().int(),
    nextReconnectAt: timestamp.nullable(),
    waitingForHuman: z.string().nullable().meta({ description: 'A reason that forbids reconnecting (LOGOUT, BANNED, …): the instance waits for a human.' }),
    phone: z.object({ wid: z.string().nullable(), pushName: z.string().nullable() }).meta({ description: 'The linked phone.' }),
    webhookUrl: z.string().nullable(),
    worker: z
      .object({ pid: z.number().int(), browserPid: z.number().int().nullable(), uptimeMs: z.number().int().nullable() })
      .nullable()
      .meta({ description: 'The running worker process; null when none runs.' }),
    lastConnectedAt: timestamp.nullable(),
    lastError: z.string().nullable(),
    createdAt: timestamp.nullable(),
    updatedAt: timestamp.nullable(),
    stale: z.array(z.string()).optional().meta({ description: 'Fields of the row that could not be read from the database (shown from memory).' }),
  })
  .meta({ id: 'Instance' });

export const instanceEnvelope = z.object({ instance: instanceView }).meta({ id: 'InstanceEnvelope' });

export const instanceList = z.object({ instances: z.array(instanceView), database: databaseState }).meta({ id: 'InstanceList' });

export const instanceEventView = z
  .object({
    seq: z.number().int(),
    occurredAt: timestamp,
    category: z.string(),
    type: z.string(),
    fromStatus: orNull(connectionStatus),
    toStatus: orNull(connectionStatus),
    reason: z.string().nullable(),
    severity: z.enum(['HIGH', 'MEDIUM', 'LOW']).nullable(),
    data: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'InstanceEvent' });

export const instanceMemory = z
  .object({
    instanceId: z.string(),
    running: z.boolean(),
    sampledAt: timestamp.nullable(),
    workerPssMb: mb.nullable(),
    workerRssMb: mb.nullable(),
    browserPssMb: mb.nullable(),
    browserRssMb: mb.nullable(),
    pageHeapMb: mb.nullable(),
    totalMb: mb.nullable().meta({ description: 'Worker + browser PSS.' }),
    capUsedPercent: z.number().nullable(),
    trendMbPerHour: z.number().nullable(),
    leakSuspected: z.boolean(),
    leakReason: z.string(),
    samples: z.number().int(),
  })
  .meta({ id: 'InstanceMemory' });

export const instanceDetails = z
  .object({
    instance: instanceView,
    memory: orNull(instanceMemory).meta({ description: 'The latest memory sample; null before the first.' }),
    events: z.array(instanceEventView).meta({ description: 'The last 20 events, newest first.' }),
    database: databaseState,
  })
  .meta({ id: 'InstanceDetails' });

export const instanceRemoved = z.object({ removed: z.string() }).meta({ id: 'InstanceRemoved' });

export const qrView = z
  .object({
    qr: z.string().meta({ description: 'The raw QR payload.' }),
    dataUrl: z.string().meta({ description: 'The QR as a PNG data: URL.' }),
    at: timestamp,
  })
  .meta({ id: 'Qr' });

export const pairingCodeView = z
  .object({
    code: z.string().meta({ description: 'Eight characters to enter on the phone.', example: 'ABCD1234' }),
    expiresAt: timestamp,
    attempts: z.number().int(),
    maxAttempts: z.number().int(),
  })
  .meta({ id: 'PairingCode' });

export const liveness = z.object({ status: z.literal('ok'), database: databaseState }).meta({ id: 'Liveness' });

const loopStats = z.object({
  running: z.boolean(),
  runs: z.number().int(),
  skips: z.number().int(),
  errors: z.number().int(),
  lastRunAt: timestamp.nullable(),
  lastDurationMs: z.number().nullable(),
});

const countBy = (what: string) => z.record(z.string(), z.number().int()).meta({ description: `Instances by ${what} (absent values are 0).` });

export const healthOverview = z
  .object({
    status: z.enum(['ok', 'degraded']),
    version: z.string(),
    demo: z.boolean().meta({ description: 'Demo mode (the fake WhatsApp Web) is on.' }),
    uptimeSeconds: z.number().int(),
    database: databaseState,
    instances: z.object({ total: z.number().int(), byStatus: countBy('connection status'), byHealth: countBy('health') }),
    loops: z.object({ health: loopStats, deep: loopStats, recovery: loopStats, memory: loopStats, memorySample: loopStats }),
    startsRefused: z.string().nullable().meta({ description: 'Why new starts are refused (fleet memory critical); null when they are not.' }),
    journalPending: z.number().int().meta({ description: 'Changes waiting for the database to come back (every one is written when it does).' }),
  })
  .meta({ id: 'HealthOverview' });

export const instanceVerdict = z
  .object({
    instanceId: z.string(),
    status: connectionStatus,
    health,
    healthReason: z.string().nullable(),
    checkedAt: timestamp.nullable(),
    consecutivePingFailures: z.number().int(),
    lastPing: z.object({ ok: z.boolean(), state: z.string().nullable(), latencyMs: z.number().nullable(), at: timestamp }).nullable(),
    deep: z.object({ storePresent: z.boolean(), socketState: z.string().nullable(), at: timestamp }).nullable(),
    recoveryFailures: z.number().int(),
    recovering: z.boolean(),
  })
  .meta({ id: 'InstanceVerdict' });

export const healthCheckResult = z
  .object({
    ran: z.object({ health: z.boolean(), deep: z.boolean() }).meta({ description: 'False when a tick was already running (its verdicts are the fresh ones).' }),
    verdicts: z.array(instanceVerdict),
  })
  .meta({ id: 'HealthCheckResult' });

export const memoryReport = z
  .object({
    sampledAt: timestamp.nullable(),
    fleet: z.object({ totalMb: mb, capMb: mb, usedPercent: z.number(), level: z.string(), refusingStarts: z.string().nullable() }),
    supervisor: z.object({ heapUsedMb: mb, heapTotalMb: mb, rssMb: mb, pssMb: mb.nullable() }).nullable(),
    thresholds: z.object({
      instanceCapMb: mb,
      fleetCapMb: mb,
      warnPercent: z.number(),
      criticalPercent: z.number(),
      leakSlopeMbPerHour: z.number(),
      leakWindowMs: z.number().int(),
      leakMinSamples: z.number().int(),
      sampleIntervalMs: z.number().int(),
    }),
    instances: z.array(instanceMemory),
    database: databaseState,
  })
  .meta({ id: 'MemoryReport' });

export const streamToken = z.object({ token: z.string(), expiresAt: timestamp }).meta({ id: 'StreamToken' });

export const failedWebhook = z
  .object({
    id: z.number().int(),
    eventId: z.string().meta({ description: 'Shared by every receiver of one notification: the idempotency key (X-Webhook-Id).' }),
    instanceId: z.string().nullable(),
    event: z.string(),
    severity: z.enum(['HIGH', 'MEDIUM', 'LOW']),
    url: z.string(),
    payload: z.record(z.string(), z.unknown()),
    attempts: z.number().int(),
    createdAt: timestamp,
    lastError: z.string().nullable(),
    lastStatusCode: z.number().int().nullable(),
  })
  .meta({ id: 'FailedWebhook' });

export const failedWebhookList = z.object({ failed: z.array(failedWebhook) }).meta({ id: 'FailedWebhookList' });

export const webhookRetried = z.object({ id: z.number().int(), status: z.literal('pending') }).meta({ id: 'WebhookRetried' });

export const demoDone = z.object({ id: z.string(), action: z.enum(DEMO_ACTIONS), done: z.literal(true) }).meta({ id: 'DemoDone' });
