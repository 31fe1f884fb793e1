import { z } from 'zod';
import { sendBodySchema } from '../messages/send-request.js';
import { BODY, ID, json, operation, type ApiOperation } from './openapi-operation.js';
import { demoAckBody, demoInboundBody, demoSendFaultBody, idempotencyKeyHeader, idParams, messageEnvelope, messageList, messageListQuery, messageParams } from './schemas.js';

/** The message routes (src/api/routes/messages.ts) and the demo routes that drive messages on the fake page. */
export const MESSAGE_OPERATIONS: readonly ApiOperation[] = [
  operation({
    method: 'post',
    path: '/api/instance/{id}/messages',
    operationId: 'sendMessage',
    summary: 'Queue a message (text, or media with a caption; optionally a reply)',
    description:
      'Answers 202 only once the message is committed to the database: from then on it is never lost and never sent twice blindly. ' +
      'It is held while the instance is not CONNECTED and sent in order, paced (SEND_MIN_INTERVAL_MS plus jitter, SEND_MAX_PER_MINUTE); ' +
      'not sent within SEND_MAX_AGE_MS it becomes `expired`. Media comes as base64 or from a URL fetched now (MESSAGE_MEDIA_MAX_MB). ' +
      'With an Idempotency-Key, a retried request answers 200 with the message the first one created.',
    tag: 'messages',
    request: {
      params: idParams,
      headers: z.object({ 'Idempotency-Key': idempotencyKeyHeader.optional() }),
      body: { required: true, content: { 'application/json': { schema: sendBodySchema } } },
    },
    responses: { 202: json('Accepted: committed, queued.', messageEnvelope), 200: json('The message an earlier request with this Idempotency-Key created.', messageEnvelope) },
    errors: [
      ...BODY,
      ...ID,
      'NOT_LINKED',
      'INSTANCE_BLOCKED',
      'IDEMPOTENCY_CONFLICT',
      'QUEUE_FULL',
      'MEDIA_TOO_LARGE',
      'MEDIA_TYPE_UNSUPPORTED',
      'MEDIA_FETCH_FAILED',
      'MEDIA_URL_FORBIDDEN',
      'SHUTTING_DOWN',
    ],
  }),
  operation({
    method: 'get',
    path: '/api/instance/{id}/messages',
    operationId: 'listMessages',
    summary: "The instance's queued and sent messages, newest first, with counts per state",
    tag: 'messages',
    request: { params: idParams, query: messageListQuery },
    responses: { 200: json('One page.', messageList) },
    errors: ID,
  }),
  operation({
    method: 'get',
    path: '/api/instance/{id}/messages/{messageId}',
    operationId: 'getMessage',
    summary: 'One message and its state',
    tag: 'messages',
    request: { params: messageParams },
    responses: { 200: json('The message.', messageEnvelope) },
    errors: [...ID, 'MESSAGE_NOT_FOUND'],
  }),
  operation({
    method: 'get',
    path: '/api/instance/{id}/messages/{messageId}/media',
    operationId: 'getReceivedMedia',
    summary: 'The media of a received message (messageId: its WhatsApp id from message.received), while the session runs',
    tag: 'messages',
    request: { params: messageParams },
    responses: { 200: { description: 'The file, with its Content-Type.', content: { 'application/octet-stream': { schema: z.string().meta({ format: 'binary' }) } } } },
    errors: [...ID, 'WORKER_NOT_RUNNING', 'MEDIA_NOT_AVAILABLE', 'IPC_CLOSED', 'IPC_TIMEOUT'],
  }),
  operation({
    method: 'post',
    path: '/api/demo/{id}/message',
    operationId: 'simulateInboundMessage',
    summary: 'Demo mode only: the fake WhatsApp Web receives a message (as if someone wrote to the phone)',
    tag: 'demo',
    request: { params: idParams, body: { required: true, content: { 'application/json': { schema: demoInboundBody } } } },
    responses: { 200: json('Fired.', z.object({ id: z.string(), messageId: z.string() }).meta({ id: 'DemoInbound' })) },
    errors: [...BODY, ...ID, 'NOT_FOUND', 'DEMO_MODE_OFF', 'WORKER_NOT_RUNNING', 'SHUTTING_DOWN', 'IPC_CLOSED', 'IPC_TIMEOUT'],
  }),
  operation({
    method: 'post',
    path: '/api/demo/{id}/ack',
    operationId: 'simulateReceipt',
    summary: 'Demo mode only: a receipt (delivered, read …) for a sent message',
    tag: 'demo',
    request: { params: idParams, body: { required: true, content: { 'application/json': { schema: demoAckBody } } } },
    responses: { 200: json('Fired.', z.object({ id: z.string(), messageId: z.string(), ack: z.number().int() }).meta({ id: 'DemoAckDone' })) },
    errors: [...BODY, ...ID, 'MESSAGE_NOT_FOUND', 'NOT_FOUND', 'DEMO_MODE_OFF', 'WORKER_NOT_RUNNING', 'SHUTTING_DOWN', 'IPC_CLOSED', 'IPC_TIMEOUT'],
  }),
  operation({
    method: 'post',
    path: '/api/demo/{id}/send-fault',
    operationId: 'simulateSendFault',
    summary: "Demo mode only: the fake page's next sends hang (before or after reaching \"WhatsApp\") or are refused: a crash point for tests",
    tag: 'demo',
    request: { params: idParams, body: { required: true, content: { 'application/json': { schema: demoSendFaultBody } } } },
    responses: { 200: json('Armed.', z.object({ id: z.string(), mode: z.string(), count: z.number().int() }).meta({ id: 'DemoSendFaultArmed' })) },
    errors: [...BODY, ...ID, 'NOT_FOUND', 'DEMO_MODE_OFF', 'WORKER_NOT_RUNNING', 'SHUTTING_DOWN', 'IPC_CLOSED', 'IPC_TIMEOUT'],
  }),
  operation({
    method: 'get',
    path: '/api/demo/{id}/sent',
    operationId: 'getFakeSentRecord',
    summary: "Demo mode only: the fake page's own record of every message that reached \"WhatsApp\" (kept in the profile)",
    tag: 'demo',
    request: { params: idParams },
    responses: { 200: json('The record, in arrival order.', z.object({ id: z.string(), sent: z.array(z.record(z.string(), z.unknown())) }).meta({ id: 'FakeSentRecord' })) },
    errors: [...ID, 'NOT_FOUND', 'DEMO_MODE_OFF', 'WORKER_NOT_RUNNING', 'IPC_CLOSED', 'IPC_TIMEOUT'],
  }),
];
