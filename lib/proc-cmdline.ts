import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessArgs {
  pid: number;
  argv: string[];
}

/**
 * Live processes whose argument vector satisfies `match`, read from /proc (no `ps` spawned).
 * Zombies are skipped: they hold nothing and cannot be killed, only reaped by their parent.
 */
export function processesMatching(match: (argv: string[]) => boolean, procRoot = '/proc'): ProcessArgs[] {
  const found: ProcessArgs[] = [];
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const raw = readFileSync(`${procRoot}/${name}/cmdline`, 'utf8');
      if (raw === '') continue;
      const argv = raw.replace(/\0$/, '').split('\0');
      if (!match(argv)) continue;
      const stat = readFileSync(`${procRoot}/${name}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      found.push({ pid: Number(name), argv });
    } catch {
      // the process exited between readdir and read
    }
  }
  return found;
}
