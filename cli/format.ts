/** Small text-formatting helpers for terminal output. Pure functions. */

/** Left-aligned columns separated by two spaces; cells longer than `maxWidth` are cut with an ellipsis. */
export function table(headers: string[], rows: string[][], maxWidth = 72): string {
  const cut = (cell: string) => (cell.length > maxWidth ? `${cell.slice(0, maxWidth - 1)}…` : cell);
  const cells = [headers, ...rows].map((row) => row.map(cut));
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? '-' : `${(value * 100).toFixed(1)}%`;
}

export function decimal(value: number | null | undefined, digits = 4): string {
  return value === null || value === undefined ? '-' : value.toFixed(digits);
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  const seconds = ms / 1_000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
}

export function timestamp(date: Date | undefined | null): string {
  return date
    ? date
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z')
    : '-';
}

/** Indents every line of `text`; empty text shows as "(empty)" so a blank section is never mistaken for a bug. */
export function indent(text: string, prefix = '    '): string {
  const body = text.trim() === '' ? '(empty)' : text.trimEnd();
  return body
    .split('\n')
    .map((line) => (line === '' ? '' : `${prefix}${line}`))
    .join('\n');
}

/** A titled block: the title on its own line, the body indented below. */
export function section(title: string, body: string): string {
  return `${title}\n${indent(body)}`;
}

/** `[█████░░░░░] 50%` for a fraction in [0, 1]. */
export function progressBar(fraction: number, width = 24): string {
  const clamped = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(clamped * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(Math.floor(clamped * 100)).padStart(3)}%`;
}

/** `key: value` lines, aligned; entries whose value is undefined are left out. */
export function fields(entries: [string, string | undefined][]): string {
  const shown = entries.filter((entry): entry is [string, string] => entry[1] !== undefined);
  const width = Math.max(0, ...shown.map(([key]) => key.length));
  return shown.map(([key, value]) => `${`${key}:`.padEnd(width + 2)}${value}`).join('\n');
}
