/** Small pure helpers for the fleet benches' markdown tables. */

export const DASH = '–';

/** A markdown table; the first `textColumns` columns are left-aligned, the rest (numbers) right-aligned. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[], textColumns = 1): string {
  const align = header.map((_, i) => (i < textColumns ? '---' : '---:'));
  return [header, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

export const seconds = (ms: number | null): string => (ms === null ? DASH : (ms / 1000).toFixed(2));
export const millis = (ms: number | null): string => (ms === null ? DASH : String(Math.round(ms)));
export const mebibytes = (bytes: number | null): string => (bytes === null ? DASH : String(Math.round(bytes / 1024 ** 2)));

export const max = (values: readonly number[]): number | null => (values.length === 0 ? null : Math.max(...values));
