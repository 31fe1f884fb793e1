import { readFileSync } from 'node:fs';

export interface LogSummary {
  /** Every `error` line, as logged. */
  errors: string[];
  /** `warn` lines, one entry per kind of message (numbers and instance ids as N), with its count. */
  warnings: Map<string, number>;
}

/**
 * The warnings and errors of every life of the supervisor in its JSON log (LOG_FORMAT=json),
 * read before the run's folder goes. Lines that are not the logger's (a browser's own chatter on
 * stderr) are not judged.
 */
export function summarizeLog(file: string, ids: readonly string[]): LogSummary {
  const summary: LogSummary = { errors: [], warnings: new Map() };
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return summary;
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { level?: unknown; message?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    const message = String(entry.message ?? '');
    if (entry.level === 'error') summary.errors.push(message);
    if (entry.level !== 'warn') continue;
    const kind = ids.reduce((m, id) => m.replaceAll(id, 'ID'), message).replace(/\d+/g, 'N').slice(0, 160);
    summary.warnings.set(kind, (summary.warnings.get(kind) ?? 0) + 1);
  }
  return summary;
}
