import { readFileSync } from 'node:fs';

/**
 * PSS of a process's anonymous and shared-memory pages (`Pss_Anon` + `Pss_Shmem` in
 * smaps_rollup): the heaps, caches and IPC buffers the instance made for itself. The rest of PSS
 * is file pages, mostly the Chromium and Node binaries, divided among every process on the
 * machine that maps them: it moves by 100 MiB and more when someone else's browsers start or
 * stop (measured here while other test suites ran), and so does USS. This part does not.
 * (lib/proc-memory reads PSS and RSS only.)
 */
export function readAnonPssBytes(pid: number): number | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  } catch {
    return null;
  }
  const anon = /^Pss_Anon:\s+(\d+) kB$/m.exec(text);
  const shmem = /^Pss_Shmem:\s+(\d+) kB$/m.exec(text);
  if (!anon || !shmem) return null;
  return (Number(anon[1]) + Number(shmem[1])) * 1024;
}
