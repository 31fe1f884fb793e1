import { z } from 'zod';

// Request shapes. Objects are strict: an unknown field is a client bug worth a 400, not silence.

export const instanceId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must match ^[A-Za-z0-9_-]{1,64}$');

export const idParams = z.object({ id: instanceId });

export const createInstanceBody = z.strictObject({
  id: instanceId,
  enabled: z.boolean().optional(),
  webhookUrl: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .max(2048)
    .nullable()
    .optional(),
});

export const pairingCodeBody = z.strictObject({
  phone: z.string().regex(/^\d{6,15}$/, 'must be the phone number in international format, digits only (E.164 without +)'),
});

export const DEMO_ACTIONS = ['scan', 'logout', 'conflict', 'unpair', 'freeze', 'crash', 'stuck', 'leak', 'release'] as const;

export const demoParams = z.object({ id: instanceId, action: z.enum(DEMO_ACTIONS, `must be one of ${DEMO_ACTIONS.join(', ')}`) });

export const healthCheckQuery = z.object({ deep: z.enum(['0', '1', 'true', 'false']).optional() });
