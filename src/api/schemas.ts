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

export const patchInstanceBody = z
  .strictObject({
    webhookUrl: z
      .union([z.literal(''), z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048)])
      .nullable()
      .meta({
        description:
          "Where this instance's notifications go; null or \"\" clears it. A new URL gets a new webhook secret, returned once. Set with an instance's own key, it may not point at a loopback, private, link-local, CGNAT or metadata address, or a name resolving to one.",
      }),
  })
  .meta({ id: 'PatchInstance' });

export const createKeyBody = z
  .strictObject({
    label: z.string().min(1).max(100).optional().meta({ description: 'A name to tell keys apart by; shown in the list.', example: 'crm-integration' }),
  })
  .meta({ id: 'CreateApiKey' });

export const keyParams = z.object({
  id: instanceId,
  keyId: z
    .string()
    .regex(/^key_[0-9a-f]{16}$/, 'must be a key id (key_ and 16 hex digits)')
    .meta({ description: 'The key id, as the list shows it.', example: 'key_0123456789abcdef' }),
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
    admission: z
      .object({
        waiting: z.literal(true),
        reason: z.string().meta({ example: 'fleet memory 1.9 GiB + 200 MiB expected > cap 2.0 GiB' }),
        wait: z.enum(['critical', 'memory', 'launches']).meta({ description: 'What it waits for: fleet memory at its critical level, room under the cap, or a launch slot (LAUNCH_CONCURRENCY).' }),
        since: timestamp,
        position: z.number().int().meta({ description: 'Place in the start queue, 1 for the oldest (served first).' }),
      })
      .nullable()
      .meta({ description: 'A start waiting at the start gate, and why; null when none waits. The status stays what it was until the start is admitted.' }),
    phone: z.object({ wid: z.string().nullable(), pushName: z.string().nullable() }).meta({ description: 'The linked phone.' }),
    webhookUrl: z.string().nullable(),
    node: z.string().nullable().meta({ description: 'The node that runs it (NODE_ID): with CLUSTER=on the holder of its lease, null while none holds one; with CLUSTER=off this supervisor.' }),
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

export const nodeIdParams = z.object({ id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a node id is 1-64 letters, digits, ".", "_" or "-"') });

const leaseStats = z
  .object({
    claims: z.number().int(),
    failovers: z.number().int(),
    losses: z.number().int(),
    handovers: z.number().int(),
    fencingRefusals: z.number().int(),
    selfFences: z.number().int(),
  })
  .meta({ description: 'This node only, since it started: leases taken (failovers: from another node), lost, handed over; writes refused by fencing; times it stopped every browser because it could not renew.' });

export const nodeView = z
  .object({
    id: z.string(),
    url: z.string().nullable(),
    state: z.enum(['up', 'draining', 'down', 'stopped']).meta({ description: 'up: takes instances; draining: hands them over; down: stopped renewing (seen dead); stopped: left gracefully.' }),
    alive: z.boolean().meta({ description: 'Heartbeat within its lease TTL (the database clock).' }),
    self: z.boolean().meta({ description: 'The node that answered.' }),
    load: z.number().int().meta({ description: 'Instances it runs (live leases).' }),
    capacity: z.number().int().meta({ description: 'NODE_MAX_INSTANCES (MAX_INSTANCES with CLUSTER=off).' }),
    leaseTtlMs: z.number().int().nullable(),
    version: z.string().nullable(),
    startedAt: timestamp.nullable(),
    heartbeatAt: timestamp.nullable(),
    leases: leaseStats.optional(),
  })
  .meta({ id: 'Node' });

export const nodeList = z.object({ cluster: z.enum(['on', 'off']), nodes: z.array(nodeView) }).meta({ id: 'NodeList' });

export const nodeAction = z
  .object({ node: z.string(), state: z.enum(['up', 'draining']), instances: z.number().int().optional().meta({ description: 'Instances being handed over by a drain.' }) })
  .meta({ id: 'NodeAction' });

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
    state: z.enum(['running', 'launching', 'waiting', 'stopped']).meta({ description: 'Measured, being launched (not measurable yet), waiting at the start gate, or without a worker.' }),
    admission: z.object({ reason: z.string(), since: timestamp }).nullable().meta({ description: 'Why its start waits at the start gate; null unless `state` is `waiting`.' }),
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
    startsRefused: z.string().nullable().meta({ description: 'Why the start gate admits no start for memory now (critical level, or no room under the cap); null when memory allows one.' }),
    journalPending: z.number().int().meta({ description: 'Changes waiting for the database to come back (every one is written when it does).' }),
    spareWorker: z
      .object({ state: z.enum(['ready', 'forking', 'none', 'off']), pid: z.number().int().nullable() })
      .meta({ description: 'The worker kept forked ahead for the next start (WORKER_SPARE): ready, still loading, none now, or off. Its process belongs to no instance.' }),
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
    fleet: z.object({
      totalMb: mb,
      capMb: mb,
      usedPercent: z.number(),
      level: z.string(),
      refusingStarts: z.string().nullable().meta({ description: 'Why the start gate admits no start for memory now; null when memory allows one.' }),
      measuredAt: timestamp.meta({ description: 'When the figures were read from /proc: the start gate’s measurement, at most a second old.' }),
      expectedMb: mb.meta({ description: 'Expected cost of one more instance.' }),
      expectedFrom: z.enum(['median', 'setting']).meta({ description: 'The median of the running CONNECTED/QR_REQUIRED instances, or INSTANCE_EXPECTED_MB.' }),
      launching: z.number().int().meta({ description: 'Launches in progress.' }),
      launchLimit: z.number().int().meta({ description: 'LAUNCH_CONCURRENCY.' }),
      waiting: z.number().int().meta({ description: 'Starts waiting at the start gate.' }),
    }),
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

const webhookSecret = z
  .string()
  .meta({ description: 'The secret that signs this instance\'s webhooks (X-Signature). Shown once: store it now; rotate it to get a new one.' });

export const instanceWritten = z
  .object({ instance: instanceView, webhookSecret: webhookSecret.optional() })
  .meta({ id: 'InstanceWritten', description: 'The instance; with `webhookSecret` when this request gave it a webhook URL (and so a new secret).' });

export const webhookSecretView = z.object({ webhookSecret }).meta({ id: 'WebhookSecret' });

export const apiKeyCreated = z
  .object({
    keyId: z.string(),
    key: z.string().meta({ description: "The key for X-API-Key: shown once, only its hash is kept. It reaches this instance's routes only." }),
    label: z.string().nullable(),
    createdAt: timestamp,
  })
  .meta({ id: 'ApiKeyCreated' });

export const apiKeyInfo = z
  .object({
    keyId: z.string(),
    label: z.string().nullable(),
    createdAt: timestamp,
    lastUsedAt: timestamp.nullable().meta({ description: 'Last use, to within 30 s; null when never used.' }),
  })
  .meta({ id: 'ApiKey' });

export const apiKeyList = z.object({ keys: z.array(apiKeyInfo) }).meta({ id: 'ApiKeyList' });

export const apiKeyRevoked = z.object({ revoked: z.string() }).meta({ id: 'ApiKeyRevoked' });

// ---------------------------------------------------------------------------------------------
// Messages. The send body itself is `sendBodySchema` (src/messages/send-request.ts): the queue
// validates with it, and the document is generated from it like everything here.

export const OUTBOUND_STATUSES = ['queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'expired', 'unknown'] as const;

export const messageParams = z.object({
  id: instanceId,
  messageId: z.string().min(1).max(200).meta({ description: 'The id POST /messages answered with; for /media, the WhatsApp id of a received message.' }),
});

export const messageListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50).meta({ description: 'Messages per page, newest first (1–200, default 50).' }),
  before: z.coerce.number().int().positive().optional().meta({ description: 'The `next` cursor of the previous page.' }),
  status: z.enum(OUTBOUND_STATUSES).optional().meta({ description: 'Only messages in this state.' }),
});

export const idempotencyKeyHeader = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'must be 1–255 visible ASCII characters')
  .meta({ description: 'Makes a retried request return the message the first one created, never a second message.' });

export const messageView = z
  .object({
    id: z.string().meta({ description: "wa-fleet's id of the message." }),
    instanceId: z.string(),
    chatId: z.string().meta({ example: '15551234567@c.us' }),
    type: z.enum(['text', 'media']),
    text: z.string().nullable().meta({ description: 'The text of a text message.' }),
    caption: z.string().nullable().meta({ description: 'The caption of a media message.' }),
    replyTo: z.string().nullable(),
    media: z.object({ mimetype: z.string(), filename: z.string().nullable(), size: z.number().int(), sha256: z.string() }).nullable(),
    status: z.enum(OUTBOUND_STATUSES).meta({
      description:
        'queued → sending → sent → delivered → read; or failed / expired (never sent) / unknown (may have been sent: WhatsApp Web could not say, so it is not sent again).',
    }),
    reason: z.string().nullable().meta({ description: 'Why it failed, expired or is unknown.' }),
    attempts: z.number().int(),
    waMessageId: z.string().nullable().meta({ description: "WhatsApp's serialized id of the message (receipts and webhooks name it)." }),
    idempotencyKey: z.string().nullable(),
    createdAt: timestamp,
    sentAt: timestamp.nullable(),
    deliveredAt: timestamp.nullable(),
    readAt: timestamp.nullable(),
    expiresAt: timestamp.meta({ description: 'A message not sent by then becomes expired (SEND_MAX_AGE_MS).' }),
  })
  .meta({ id: 'Message' });

export const messageEnvelope = z.object({ message: messageView }).meta({ id: 'MessageEnvelope' });

export const messageList = z
  .object({
    messages: z.array(messageView),
    next: z.number().int().nullable().meta({ description: 'Pass as `before` for the next page; null on the last.' }),
    counts: z.record(z.enum(OUTBOUND_STATUSES), z.number().int()).meta({ description: "The instance's messages in each state, all pages together." }),
  })
  .meta({ id: 'MessageList' });

export const demoInboundBody = z
  .strictObject({
    from: z.string().regex(/^\+?\d{6,15}$|^\d{6,25}(-\d{6,12})?@(c|g)\.us$/, 'must be international digits or a chat id').meta({ example: '15557654321' }),
    body: z.string().max(65_536).optional(),
    media: z.strictObject({ mimetype: z.string().max(127), filename: z.string().max(255).optional(), base64: z.string() }).optional(),
    quotedId: z.string().max(200).optional(),
    offline: z.boolean().optional().meta({ description: 'Deliver it as WhatsApp does for a phone that was offline: after the next connect.' }),
  })
  .meta({ id: 'DemoInboundMessage' });

export const demoAckBody = z
  .strictObject({
    messageId: z.string().min(1).max(200).meta({ description: "wa-fleet's message id, or WhatsApp's serialized id." }),
    ack: z.union([z.literal(-1), z.literal(1), z.literal(2), z.literal(3), z.literal(4)]).meta({ description: '1 server, 2 delivered, 3 read, 4 played, -1 error.' }),
  })
  .meta({ id: 'DemoAck' });

export const demoSendFaultBody = z
  .strictObject({
    mode: z.enum(['hang-before-record', 'hang-after-record', 'reject']).meta({
      description: 'hang-before-record: the send never reaches "WhatsApp" and never answers; hang-after-record: it reaches it, then never answers; reject: the page refuses it.',
    }),
    count: z.number().int().min(1).max(1000).default(1).meta({ description: 'How many of the next sends (this page load only).' }),
  })
  .meta({ id: 'DemoSendFault' });
