/**
 * Where a worker's metrics go: a Prometheus endpoint it serves (`MEL_METRICS_PROMETHEUS=127.0.0.1:9464`, scraped at
 * `/metrics`), or an OpenTelemetry collector it pushes to (`MEL_METRICS_OTLP_URL=http://collector:4317`); and where
 * its traces go: an OTLP/HTTP traces endpoint (`MEL_TRACES_OTLP_URL=http://collector:4318/v1/traces`,
 * telemetry/tracing.ts). None is set by default: a worker exports nothing unless asked.
 */
import type { TelemetryOptions } from '@temporalio/worker';
import { z } from 'zod';
import { ConfigError } from '../common/env.js';

const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

const TelemetryEnvSchema = z.object({
  MEL_METRICS_PROMETHEUS: z
    .string()
    .regex(HOST_PORT, 'a bind address, host:port (for example 127.0.0.1:9464)')
    .optional(),
  MEL_METRICS_OTLP_URL: z.url({ protocol: /^https?$/ }).optional(),
  MEL_TRACES_OTLP_URL: z.url({ protocol: /^https?$/ }).optional(),
});

export type TelemetrySettings = z.infer<typeof TelemetryEnvSchema>;

export function telemetrySettings(source: NodeJS.ProcessEnv = process.env): TelemetrySettings {
  const parsed = TelemetryEnvSchema.safeParse(source);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new ConfigError(`${String(issue.path[0])}: ${issue.message}`);
}

/** The runtime's telemetry options for the settings; undefined when no exporter is asked for. */
export function telemetryOptions(settings: TelemetrySettings): TelemetryOptions | undefined {
  const { MEL_METRICS_PROMETHEUS: prometheus, MEL_METRICS_OTLP_URL: otlp } = settings;
  if (prometheus && otlp) {
    throw new ConfigError(
      'MEL_METRICS_PROMETHEUS and MEL_METRICS_OTLP_URL are both set: the worker runtime exports metrics one way; ' +
        'choose one (a collector can scrape or receive either)',
    );
  }
  if (!prometheus && !otlp) return undefined;
  return { metrics: prometheus ? { prometheus: { bindAddress: prometheus } } : { otel: { url: otlp! } } };
}
