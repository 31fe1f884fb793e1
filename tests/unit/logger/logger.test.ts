import { describe, expect, it } from 'vitest';
import { Category } from '../../../src/logger/index.js';
import { capturingLogger } from '../../support/logger.js';

const API_KEY = 'sk_live_9f8e7d6c5b4a39281706';
const WEBHOOK_SECRET = 'whsec-0123456789-abcdef';

const flush = () => new Promise((r) => setImmediate(r));

describe.each(['pretty', 'json'] as const)('logger in %s format', (format) => {
  it('never prints the API key or webhook secret, wherever they appear', async () => {
    const { log, output } = capturingLogger({ format, secrets: [API_KEY, WEBHOOK_SECRET] });
    const api = log.child({ category: Category.API });
    api.info(`request with key ${API_KEY}`);
    api.warn('auth failed', { headers: { 'x-api-key': API_KEY }, note: `secret=${WEBHOOK_SECRET}` });
    api.error('boom', { error: new Error(`failed for ${API_KEY}`), nested: [{ deep: API_KEY }] });
    await flush();
    const text = output();
    expect(text).toContain('request with key');
    expect(text).not.toContain(API_KEY);
    expect(text).not.toContain(WEBHOOK_SECRET);
    expect(text).toContain('[REDACTED]');
  });

  it('hides values shaped like credentials it was not told about', async () => {
    const { log, output } = capturingLogger({ format });
    log.info('connecting to mysql://app:s3cr3tpass@db:3306/x with token=abcdef123456 and Authorization: Bearer eyJhbGciOi.abc.def');
    await flush();
    const text = output();
    expect(text).not.toContain('s3cr3tpass');
    expect(text).not.toContain('abcdef123456');
    expect(text).not.toContain('eyJhbGciOi');
  });
});

describe('pretty format', () => {
  it('prints time, level, category, instance id and message in brackets', async () => {
    const { log, output } = capturingLogger({ format: 'pretty' });
    log.child({ category: Category.SESSION, instanceId: 'sales-01' }).info('ready');
    await flush();
    expect(output().trim()).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] \[INFO\] \[SESSION\] \[sales-01\] ready$/);
  });
});

describe('json format', () => {
  it('prints one object per line with category and instance id as fields', async () => {
    const { log, output } = capturingLogger({ format: 'json' });
    log.child({ category: Category.RECONNECT, instanceId: 'ops-2' }).warn('retrying', { attempt: 3 });
    await flush();
    const line = JSON.parse(output().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'warn', category: 'RECONNECT', instanceId: 'ops-2', message: 'retrying', attempt: 3 });
    expect(typeof line.timestamp).toBe('string');
  });

  it('respects the level', async () => {
    const { log, output } = capturingLogger({ format: 'json', level: 'warn' });
    log.info('hidden');
    log.warn('shown');
    await flush();
    expect(output()).not.toContain('hidden');
    expect(output()).toContain('shown');
  });
});
