import { pino, type Logger } from 'pino';
import { loadEnv } from './env.js';

/** Structured JSON logs on stderr, one logger per component (`component` field). */
export function createLogger(component: string): Logger {
  return pino({ level: loadEnv().MEL_LOG_LEVEL, base: { component } }, pino.destination(2));
}

export type { Logger };
