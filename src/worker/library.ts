/**
 * The parts of whatsapp-web.js a worker uses, each loaded from its own module. The package's
 * index loads every part, RemoteAuth and with it its zip libraries (archiver, unzipper,
 * fs-extra) included: ~5 MiB in every worker, while only SESSION_STORE=mysql needs them, and
 * that loads remote-auth.ts when an instance starts with it.
 */
import { createRequire } from 'node:module';
import type wwebjs from 'whatsapp-web.js';

const load = createRequire(import.meta.url);

export const Client = load('whatsapp-web.js/src/Client') as typeof wwebjs.Client;
export const LocalAuth = load('whatsapp-web.js/src/authStrategies/LocalAuth') as typeof wwebjs.LocalAuth;
export const MessageMedia = load('whatsapp-web.js/src/structures/MessageMedia') as typeof wwebjs.MessageMedia;

/** RemoteAuth, loaded on first use (remote-auth.ts only). */
export const loadRemoteAuth = (): typeof wwebjs.RemoteAuth => load('whatsapp-web.js/src/authStrategies/RemoteAuth') as typeof wwebjs.RemoteAuth;
