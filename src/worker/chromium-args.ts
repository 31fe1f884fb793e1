/**
 * Chromium flags of every worker's browser.
 *
 * OFFLINE: the browser must not phone home. On a closed network every background connection is
 * refused or fails a DNS lookup, which costs time at each start and fills logs.
 *
 * LOW_MEMORY: measured with scripts/bench/worker-footprint.ts (PSS of worker + browser tree, four
 * instances at once on the fake WhatsApp Web, see the README). One browser process instead of
 * nine (`--single-process --no-zygote`) is the lever that pays: ~70 MiB less per instance (-30 %
 * on an idle page, -20 % with 100 MiB of page heap) and starts 15-20 % faster four at a time.
 * The multi-process trims (`--renderer-process-limit=1`, `--in-process-gpu`) save processes, not
 * memory, so they are not used. Chromium calls single-process unsupported because a renderer fault takes the whole
 * browser down; here a browser serves exactly one page in its own worker process, so that fault
 * is the same event as a tab crash and the supervisor recovers it the same way.
 * `--no-zygote` and single-process need `--no-sandbox`, which server deployments of
 * whatsapp-web.js use anyway (Chromium refuses to run as root with the sandbox).
 */
export const OFFLINE_ARGS = [
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--disable-default-apps',
  '--disable-domain-reliability',
] as const;

export const LOW_MEMORY_ARGS = [
  '--no-sandbox',
  '--single-process',
  '--no-zygote',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-extensions',
  '--mute-audio',
] as const;

export const WORKER_CHROMIUM_ARGS: readonly string[] = [...OFFLINE_ARGS, ...LOW_MEMORY_ARGS];
