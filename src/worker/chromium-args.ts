/**
 * Chromium flags of every worker's browser.
 *
 * OFFLINE: the browser must not phone home. On a closed network every background connection is
 * refused or fails a DNS lookup, which costs time at each start and fills logs.
 *
 * LOW_MEMORY: trims both modes keep (no GPU, no /dev/shm, no extensions, no audio).
 *
 * BROWSER_SANDBOX=off (SINGLE_PROCESS): measured with scripts/bench/worker-footprint.ts (PSS of
 * worker + browser tree on the fake WhatsApp Web, see the README and docs/runs/). One browser
 * process instead of several (`--single-process --no-zygote`) is the lever that pays: ~70 MiB
 * less per instance, and faster starts four at a time. Chromium calls single-process unsupported
 * because a renderer fault takes the whole browser down; here a browser serves exactly one page
 * in its own worker process, so that fault is the same event as a tab crash and the supervisor
 * recovers it the same way. Single-process needs `--no-sandbox`: the renderer then runs in the
 * browser process with the worker's rights, never root's (see worker-user.ts).
 *
 * BROWSER_SANDBOX=on: Chromium's own model, renderer in a separate sandboxed process (user
 * namespaces, seccomp): an exploit in a page is also confined from the worker user's files,
 * other profiles included. Chromium refuses its sandbox as root, which a worker never is then.
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

export const LOW_MEMORY_ARGS = ['--disable-gpu', '--disable-dev-shm-usage', '--disable-extensions', '--mute-audio'] as const;

export const SINGLE_PROCESS_ARGS = ['--no-sandbox', '--single-process', '--no-zygote'] as const;

/** The flags of a worker's browser, with Chromium's sandbox (multi-process) or without it (single-process). */
export function chromiumArgs(sandbox: boolean): string[] {
  return [...OFFLINE_ARGS, ...LOW_MEMORY_ARGS, ...(sandbox ? [] : SINGLE_PROCESS_ARGS)];
}
