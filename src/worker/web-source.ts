import { join } from 'node:path';
import type { ClientOptions } from 'whatsapp-web.js';
import { fakeClientOptions } from '../demo/fake-web.js';
import type { WorkerInit } from './protocol.js';

/** The folder in the session root where demo mode writes each instance's fake page. */
export const FAKE_WEB_DIR = '.fake-web';

/**
 * Where the client gets WhatsApp Web from. Normally the real site, with the library's local
 * version cache. In demo/test mode (validated by config, refused in production) the fake page,
 * written per instance so two workers never read a file the other is writing.
 */
export function webSourceOptions(init: WorkerInit): Partial<ClientOptions> {
  if (init.fakeWeb) {
    return fakeClientOptions(join(init.sessionRoot, FAKE_WEB_DIR, init.instanceId), init.fakeScenario ?? {});
  }
  return { webVersionCache: { type: 'local', path: init.cachePath } };
}
