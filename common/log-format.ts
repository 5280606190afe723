/** Pino's JSON log lines as one readable line each: `12:03:04 INFO  stack  message  key=value`. */

const LEVELS: Record<number, { label: string; color: string }> = {
  10: { label: 'TRACE', color: '90' },
  20: { label: 'DEBUG', color: '90' },
  30: { label: 'INFO', color: '36' },
  40: { label: 'WARN', color: '33' },
  50: { label: 'ERROR', color: '31' },
  60: { label: 'FATAL', color: '31;1' },
};

/** Pino's own fields, shown in their places rather than as key=value. */
const PLACED = new Set(['level', 'time', 'pid', 'hostname', 'component', 'msg']);

export interface LogFormatOptions {
  /** ANSI colors (a terminal that wants them). */
  color: boolean;
}

/** One pino JSON line (trailing newline optional) as text with a trailing newline; other text passes as is. */
export function formatLogLine(line: string, options: LogFormatOptions): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const paint = (code: string, text: string) => (options.color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const level = LEVELS[Number(entry.level)] ?? { label: String(entry.level), color: '0' };
  const head = [
    paint('2', timeOfDay(entry.time)),
    paint(level.color, level.label.padEnd(5)),
    paint('35', String(entry.component ?? '-')),
    String(entry.msg ?? '').replace(/\n/g, '\n    '),
  ];
  const fields = Object.entries(entry)
    .filter(([key]) => !PLACED.has(key))
    .map(([key, value]) => `${paint('2', `${key}=`)}${fieldValue(value)}`);
  const stack = errorStack(entry, Number(entry.level) >= 50);
  return `${[...head, ...fields].filter((part) => part !== '').join('  ')}${stack}\n`;
}

function timeOfDay(time: unknown): string {
  const date = new Date(typeof time === 'number' ? time : Date.now());
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((n) => String(n).padStart(2, '0'))
    .join(':');
}

/** Plain words as they are; text with spaces or quotes quoted; errors by their message; objects as JSON. */
function fieldValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (isSerializedError(value)) return JSON.stringify(value.message);
  return JSON.stringify(value) ?? String(value);
}

function isSerializedError(value: unknown): value is { message: string; stack?: string } {
  return typeof value === 'object' && value !== null && 'message' in value && 'stack' in value;
}

/** For errors and worse: the stack of a logged error, indented under the line. */
function errorStack(entry: Record<string, unknown>, wanted: boolean): string {
  const error = entry.err;
  if (!wanted || !isSerializedError(error) || !error.stack) return '';
  return `\n${error.stack
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n')}`;
}
