import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';

/**
 * Deliberately broken supervisors, to prove the chaos checks catch what they name. A defect is a
 * text patch applied to a copy of the built supervisor (dist/), never to the source: shipped code
 * has no switch for it. Each patch must find its text exactly once, so a defect that no longer
 * applies after a refactor fails loudly instead of running an unbroken supervisor.
 */
interface Patch {
  /** Path under dist/. */
  file: string;
  find: string;
  replace: string;
}

interface Defect {
  /** The check that must catch it. */
  caughtBy: string;
  /** Only a run of several nodes (`--nodes N`) can show it. */
  nodes?: boolean;
  patches: Patch[];
}

export const DEFECTS: Record<string, Defect> = {
  // Announces every status change but never records a change to RECONNECTING.
  'drop-event': {
    caughtBy: 'announced status changes vs recorded events',
    patches: [
      {
        file: 'src/db/events.js',
        find: 'export async function insertEvent(conn, instanceId, event, at) {',
        replace: "export async function insertEvent(conn, instanceId, event, at) {\n    if (event.toStatus === 'RECONNECTING') return 0;",
      },
    ],
  },
  // The health and deep checks never ask a worker anything: every probe counts as answered.
  'ignore-sigstop': {
    caughtBy: 'worker_sigstop noticed while it lasts',
    patches: [
      { file: 'src/checks/health-loop.js', find: 'const ping = await worker.ping(settings.pingTimeoutMs);', replace: "const ping = { state: 'CONNECTED', latencyMs: 1 };" },
      { file: 'src/checks/deep-loop.js', find: 'const deep = await worker.deep(settings.pingTimeoutMs);', replace: "const deep = { storePresent: true, socketState: 'CONNECTED', jsHeapUsedBytes: 0 };" },
    ],
  },
  // Keeps 256 KiB for ever per event it emits: the supervisor's memory grows with its work.
  'supervisor-leak': {
    caughtBy: 'supervisor memory (a life of 10 minutes or more must not keep rising)',
    patches: [
      {
        file: 'src/supervisor/event-bus.js',
        find: '    emit(name, payload) {',
        replace: '    emit(name, payload) {\n        (globalThis.__defectLeak ??= []).push(Buffer.alloc(256 * 1024, 1));',
      },
    ],
  },
  // While the database is away, the health loop kills the browsers it checks.
  'outage-kills-sessions': {
    caughtBy: 'mysql_stop disturbs no session',
    patches: [
      {
        file: 'src/checks/health-loop.js',
        find: 'export function pingProbe({ observations, settings }) {\n    return async (handle, worker) => {',
        replace:
          "export function pingProbe({ observations, settings, fleet }) {\n    return async (handle, worker) => {\n        if (!fleet.journal.databaseUp && handle.live.browserPid) { try { process.kill(handle.live.browserPid, 'SIGKILL'); } catch {} }",
      },
    ],
  },
  // Loses the 5th inbound message of each life: the worker handed it over, nothing is recorded or sent on.
  'drop-inbound': {
    caughtBy: 'every inbound message the page took reached the receiver',
    patches: [
      {
        file: 'src/messages/messages.js',
        find: '    async received(instanceId, p) {',
        replace: '    async received(instanceId, p) {\n        if ((globalThis.__defectInbound = (globalThis.__defectInbound ?? 0) + 1) === 5) return;',
      },
    ],
  },
  // Before the 5th send of each life, sends the same message once more under another WhatsApp id.
  'duplicate-send': {
    caughtBy: 'every accepted send on the page exactly once',
    patches: [
      {
        file: 'src/messages/sender.js',
        find: '            const reply = await worker.sendMessage({',
        replace:
          "            if ((globalThis.__defectDuplicate = (globalThis.__defectDuplicate ?? 0) + 1) === 5) await worker.sendMessage({ chatId: head.chatId, waId: head.waId.slice(0, -1) + (head.waId.endsWith('F') ? 'E' : 'F'), text: head.body ?? '', quotedId: null }, this.deps.settings.timeoutMs).catch(() => undefined);\n            const reply = await worker.sendMessage({",
      },
    ],
  },
  // A node that cannot renew never stops its browsers: neither its watchdog nor its workers' own
  // deadline fire, so a frozen or cut-off node's browsers run on while another node starts the same sessions.
  'no-self-fence': {
    caughtBy: 'never two live browsers for one instance across the nodes',
    nodes: true,
    patches: [
      { file: 'src/worker/main.js', find: 'function armLease(validForMs) {', replace: 'function armLease(validForMs) {\n    return;' },
      { file: 'src/cluster/cluster-node.js', find: '    checkFence() {', replace: '    checkFence() {\n        return;' },
    ],
  },
};

export const DEFECT_NAMES = Object.keys(DEFECTS);

/**
 * Copies dist/ into `<repo>/data/defects/<name>/dist` (inside the package, so the copy finds the
 * package root, sql/, public/ and node_modules as the real build does), applies the defect, and
 * returns the copy's entry point.
 */
export function buildDefective(name: string): string {
  const defect = DEFECTS[name];
  if (!defect) throw new Error(`unknown defect ${name}; known: ${DEFECT_NAMES.join(', ')}`);
  const root = join(PACKAGE_ROOT, 'data', 'defects', name);
  rmSync(root, { recursive: true, force: true });
  cpSync(join(PACKAGE_ROOT, 'dist'), join(root, 'dist'), { recursive: true });
  for (const patch of defect.patches) {
    const file = join(root, 'dist', patch.file);
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const found = text.split(patch.find).length - 1;
    if (found !== 1) throw new Error(`defect ${name}: expected the patched text once in dist/${patch.file}, found it ${found} times (rebuild, or update scripts/chaos/defects.ts)`);
    writeFileSync(file, text.replace(patch.find, patch.replace));
  }
  return join(root, 'dist', 'src', 'main.js');
}
