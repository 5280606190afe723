import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../common/logger.js';
import { telemetryOptions, telemetrySettings } from '../telemetry/settings.js';

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * Routes the SDK's own logs (worker state, workflow and activity `log` calls) into our structured logs, and its
 * metrics (with MEL's, telemetry/mel-metrics.ts) to the exporter the environment names (telemetry/settings.ts).
 */
export function installTemporalRuntime(
  log: Logger,
  level: LogLevel = 'INFO',
  source: NodeJS.ProcessEnv = process.env,
): void {
  const telemetry = telemetryOptions(telemetrySettings(source));
  Runtime.install({
    logger: new DefaultLogger(level, (entry) =>
      log[PINO_LEVEL[entry.level]](entry.meta ?? {}, entry.message),
    ),
    ...(telemetry ? { telemetryOptions: telemetry } : {}),
  });
}
