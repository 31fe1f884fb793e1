/**
 * The Chromium flag sets the footprint bench compares, besides the worker's own
 * (src/worker/chromium-args.ts).
 */

/**
 * A plain whatsapp-web.js client: nothing for memory, only what this machine needs. `--no-sandbox`
 * because the bench runs as root (Chromium refuses the sandbox then); the rest keep an offline
 * browser from trying the network at every start.
 */
export const PLAIN_CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
