import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../../common/env.js';
import { formatLogLine } from '../../../common/log-format.js';
import { logFormat } from '../../../common/logger.js';

const time = new Date(2026, 0, 2, 3, 4, 5).getTime();
const line = (entry: object) => `${JSON.stringify({ level: 30, time, component: 'stack', ...entry })}\n`;

describe('formatLogLine', () => {
  it('puts time, level, component and message first, then the fields as key=value', () => {
    expect(
      formatLogLine(line({ msg: 'installed', name: 'temporal-cli', seconds: 3 }), { color: false }),
    ).toBe('03:04:05  INFO   stack  installed  name=temporal-cli  seconds=3\n');
  });

  it('quotes text with spaces, writes objects as JSON and leaves out pid and hostname', () => {
    const text = formatLogLine(
      line({ level: 40, pid: 1, hostname: 'h', msg: 'restarting', reason: 'engine serves x', ports: [1, 2] }),
      { color: false },
    );
    expect(text).toBe('03:04:05  WARN   stack  restarting  reason="engine serves x"  ports=[1,2]\n');
  });

  it('shows an error by its message, and its stack under errors', () => {
    const err = { type: 'Error', message: 'boom', stack: 'Error: boom\n    at f (x.ts:1:1)' };
    expect(formatLogLine(line({ level: 30, msg: 'retrying', err }), { color: false })).toBe(
      '03:04:05  INFO   stack  retrying  err="boom"\n',
    );
    expect(formatLogLine(line({ level: 50, msg: 'failed', err }), { color: false })).toBe(
      '03:04:05  ERROR  stack  failed  err="boom"\n    Error: boom\n        at f (x.ts:1:1)\n',
    );
  });

  it('indents the lines after the first of a message', () => {
    expect(formatLogLine(line({ msg: 'missing\n  fix: install it' }), { color: false })).toBe(
      '03:04:05  INFO   stack  missing\n      fix: install it\n',
    );
  });

  it('colors the level on a terminal that wants colors', () => {
    const text = formatLogLine(line({ level: 50, msg: 'x' }), { color: true });
    expect(text).toContain('\x1b[31mERROR\x1b[0m');
  });

  it('passes a line that is not JSON through', () => {
    expect(formatLogLine('plain text', { color: false })).toBe('plain text\n');
  });
});

describe('logFormat', () => {
  it('is pretty on a terminal and JSON when piped, unless MEL_LOG_FORMAT says otherwise', () => {
    expect(logFormat(loadEnv({}), { isTTY: true })).toBe('pretty');
    expect(logFormat(loadEnv({}), { isTTY: false })).toBe('json');
    expect(logFormat(loadEnv({ MEL_LOG_FORMAT: 'json' }), { isTTY: true })).toBe('json');
    expect(logFormat(loadEnv({ MEL_LOG_FORMAT: 'pretty' }), {})).toBe('pretty');
    expect(() => loadEnv({ MEL_LOG_FORMAT: 'fancy' })).toThrow(/MEL_LOG_FORMAT/);
  });
});
