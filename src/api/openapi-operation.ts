import type { RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { z } from 'zod';
import { ERRORS, type ErrorCode } from '../errors/index.js';
import { errorResponse } from './schemas.js';

/*
 * How one operation of the OpenAPI document is declared: its tag, its security, and its error
 * answers taken from the registry of codes. src/api/openapi.ts and the files it gathers
 * operations from (openapi-messages.ts) declare theirs with these.
 */

export const API_KEY = 'apiKey';
export const STREAM_TOKEN = 'streamToken';
export const WITH_KEY = [{ [API_KEY]: [] }];

export type Tag = 'instances' | 'linking' | 'messages' | 'keys' | 'nodes' | 'health' | 'events' | 'webhooks' | 'demo' | 'meta';

export const TAGS: Array<{ name: Tag; description: string }> = [
  { name: 'instances', description: 'Create, list, inspect, start, stop and delete WhatsApp Web sessions.' },
  { name: 'linking', description: 'Link a phone to an instance: by QR code or by pairing code.' },
  {
    name: 'messages',
    description:
      'Send messages through a durable queue (202 once committed; Idempotency-Key; held while the instance is not CONNECTED, paced, never sent twice blindly) and follow their states. Inbound messages and receipts arrive as webhooks (message.received, message.status, message.ack).',
  },
  {
    name: 'keys',
    description:
      "Per-instance API keys (admin key only): a key reaches its own instance's routes and nothing else (403 FORBIDDEN_SCOPE). Shown once at creation; only a hash is stored.",
  },
  {
    name: 'nodes',
    description:
      'CLUSTER=on: the supervisors sharing this MySQL, their load and health; drain one for maintenance. A request about an instance another node runs is forwarded to it (the answer carries X-Wa-Fleet-Node).',
  },
  { name: 'health', description: 'Liveness, the fleet overview, the health checks on demand and the memory report.' },
  { name: 'events', description: 'Server-Sent Events of status, QR, health and memory alerts.' },
  { name: 'webhooks', description: "Webhook secrets, notifications that could not be delivered (dead-lettered), and sending them again." },
  { name: 'demo', description: 'Demo mode only (WA_FLEET_FAKE_WEB): drive the fake WhatsApp Web without a phone.' },
  { name: 'meta', description: 'This document and the Prometheus metrics.' },
];

/**
 * Codes every route behind the key may answer: the key's refusals (an instance's own key outside
 * its instance is FORBIDDEN_SCOPE; one the database cannot check during an outage is
 * DATABASE_UNAVAILABLE), and the generic 500.
 */
export const GUARDED: ErrorCode[] = ['UNAUTHORIZED', 'FORBIDDEN_SCOPE', 'TOO_MANY_ATTEMPTS', 'DATABASE_UNAVAILABLE', 'INTERNAL'];
/** A JSON body: unreadable, too large, or not matching its schema. */
export const BODY: ErrorCode[] = ['VALIDATION_FAILED', 'INVALID_JSON', 'BODY_TOO_LARGE'];
/** An instance id in the path; with CLUSTER=on, an instance no node runs at this moment, or whose node did not answer. */
export const ID: ErrorCode[] = ['VALIDATION_FAILED', 'INSTANCE_NOT_FOUND', 'INSTANCE_NOT_PLACED', 'OWNER_UNREACHABLE'];

/**
 * The error responses of an operation, one per status, each status and meaning taken from the
 * registry of codes (src/errors): a code cannot be documented under a status it does not have.
 */
function errorResponses(codes: readonly ErrorCode[]): RouteConfig['responses'] {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const { status } = ERRORS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus]
      .sort(([a], [b]) => a - b)
      .map(([status, list]) => [
        status,
        { description: list.map((code) => `${code}: ${ERRORS[code].meaning}`).join('; '), content: { 'application/json': { schema: errorResponse } } },
      ]),
  );
}

export const json = (description: string, schema: z.ZodType) => ({ description, content: { 'application/json': { schema } } });

interface Operation {
  method: RouteConfig['method'];
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: Tag;
  /** Default: the API key. */
  security?: RouteConfig['security'];
  request?: RouteConfig['request'];
  /** The success responses (and anything that is not a registered error). */
  responses: RouteConfig['responses'];
  /** The error codes it may answer; GUARDED is added when the API key guards it. */
  errors?: ErrorCode[];
}

/** A documented operation: its route config for the generator, and the error codes it may answer. */
export interface ApiOperation {
  config: RouteConfig;
  errors: readonly ErrorCode[];
}

export function operation(op: Operation): ApiOperation {
  const { tag, security = WITH_KEY, errors = [], responses, ...rest } = op;
  const codes = security.length > 0 ? [...GUARDED, ...errors] : errors;
  return { config: { ...rest, tags: [tag], security, responses: { ...responses, ...errorResponses(codes) } }, errors: codes };
}

