// Written by `npm run build`: the commit dist/ was built from, so a run of the built supervisor
// (chaos, soak, benches) can say what it ran. `+dirty`: tracked files had uncommitted changes.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

function commit() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

writeFileSync('dist/src/build-info.json', `${JSON.stringify({ commit: commit(), builtAt: new Date().toISOString() })}\n`);
