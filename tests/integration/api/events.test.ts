import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandInApi, type StandInApi } from '../../support/api.js';

let setup: StandInApi;
let fleet: StandInApi['fleet'];
let api: StandInApi['api'];

beforeAll(async () => {
  setup = await startStandInApi();
  ({ fleet, api } = setup);
});
afterAll(() => setup?.close());

/** Reads the stream until `until` is seen (or the time is up), then closes it. */
async function readStream(url: string, headers: Record<string, string>, until: RegExp, act: () => Promise<unknown>): Promise<string> {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  await act();
  const deadline = Date.now() + 10_000;
  while (!until.test(text) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  controller.abort();
  return text;
}

describe('GET /api/events', () => {
  it('streams status changes and QR codes as Server-Sent Events', async () => {
    const text = await readStream(`${api.base}/api/events`, { 'x-api-key': api.key }, /event: qrcode\.updated/, () => api.call('POST', '/api/instances', { id: 'sse-1' }));
    expect(text).toMatch(/event: connection\.update\ndata: \{"instanceId":"sse-1","status":"INITIALIZING"/);
    expect(text).toMatch(/event: qrcode\.updated\ndata: \{"instanceId":"sse-1","qr":"2@/);
  });

  it('accepts a short-lived token instead of the header, for EventSource', async () => {
    const { json } = await api.call('POST', '/api/events/token');
    expect(json.token).toMatch(/^[\w-]{20,}$/);
    const text = await readStream(`${api.base}/api/events?token=${json.token}`, {}, /INITIALIZING/, () => api.call('POST', '/api/instances', { id: 'sse-2' }));
    expect(text).toContain('"instanceId":"sse-2"');
  });

  it('refuses an unknown token and a missing key', async () => {
    expect((await fetch(`${api.base}/api/events?token=forged`)).status).toBe(401);
    expect((await fetch(`${api.base}/api/events`)).status).toBe(401);
  });

  it('lets go of its listener when the client leaves', async () => {
    const before = fleet.events.listenerCount();
    await readStream(`${api.base}/api/events`, { 'x-api-key': api.key }, /retry/, async () => undefined);
    await new Promise((r) => setTimeout(r, 200));
    expect(fleet.events.listenerCount()).toBe(before);
  });
});
