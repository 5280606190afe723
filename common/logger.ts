import { pino, type DestinationStream, type Logger } from 'pino';
import { loadEnv, type Env } from './env.js';
import { formatLogLine } from './log-format.js';
import { writeAbove } from './progress.js';
import { redactCredentials } from './redact.js';

/**
 * Logs on stderr, one logger per component (`component` field): readable lines on a terminal, JSON lines
 * when piped (MEL_LOG_FORMAT overrides). Credentials in URIs are masked; lines go above a live progress line.
 */
export function createLogger(component: string): Logger {
  const env = loadEnv();
  return pino({ level: env.MEL_LOG_LEVEL, base: { component } }, stderrDestination(env));
}

export function logFormat(env: Env, stream: { isTTY?: boolean } = process.stderr): 'pretty' | 'json' {
  if (env.MEL_LOG_FORMAT !== 'auto') return env.MEL_LOG_FORMAT;
  return stream.isTTY ? 'pretty' : 'json';
}

function stderrDestination(env: Env): DestinationStream {
  const pretty = logFormat(env) === 'pretty';
  const color = pretty && Boolean(process.stderr.isTTY) && !process.env.NO_COLOR;
  return {
    write(line: string) {
      const safe = redactCredentials(line);
      writeAbove(process.stderr, pretty ? formatLogLine(safe, { color }) : safe);
    },
  };
}

export type { Logger };
