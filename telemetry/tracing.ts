/**
 * OpenTelemetry tracing, on when `MEL_TRACES_OTLP_URL` names an OTLP/HTTP traces endpoint (telemetry/settings.ts):
 * Temporal's interceptors trace workflows and activities (a step's workflow → its activities, the trace carried in
 * the calls' headers), and inside an activity every engine call (telemetry/observed-engine.ts) and every MongoDB
 * command (`traceMongoCommands`) is a child span of the activity's. Spans go out in batches.
 */
import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';
import type { MongoClient } from 'mongodb';
import { telemetrySettings, type TelemetrySettings } from './settings.js';

export interface Tracing {
  tracer: Tracer;
  /** Adds the workflow, activity and client interceptors to a worker or a client (`plugins`). */
  plugin: OpenTelemetryPlugin;
  /** Exports the spans still buffered. */
  flush(): Promise<void>;
}

let started: { tracing: Tracing | undefined } | undefined;

/**
 * This process's tracing, started on first use from the environment (telemetry/settings.ts), or undefined when no
 * traces endpoint is set. One per process: OpenTelemetry's tracer provider and context manager are global.
 */
export function processTracing(source: NodeJS.ProcessEnv = process.env): Tracing | undefined {
  started ??= { tracing: startTracing(telemetrySettings(source)) };
  return started.tracing;
}

function startTracing(settings: TelemetrySettings): Tracing | undefined {
  const url = settings.MEL_TRACES_OTLP_URL;
  if (!url) return undefined;
  const resource = new Resource({ 'service.name': 'mel-temporal' });
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url }), {
    scheduledDelayMillis: 1_000,
  });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // Engine and MongoDB spans find their activity's span through the async context.
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  const tracer = provider.getTracer('mel-temporal');
  return {
    tracer,
    plugin: new OpenTelemetryPlugin({ resource, spanProcessor, tracer }),
    flush: () => provider.forceFlush(),
  };
}

/**
 * A client span per MongoDB command (`mongodb <command>`, its collection an attribute) under the span active when
 * it was sent; commands sent outside any span (index creation at start-up) are not traced.
 */
export function traceMongoCommands(client: MongoClient, tracer: Tracer): void {
  const open = new Map<number, Span>();
  client.on('commandStarted', (event) => {
    if (!trace.getSpan(context.active())) return;
    const collection = event.command[event.commandName] as unknown;
    const span = tracer.startSpan(
      `mongodb ${event.commandName}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'db.system': 'mongodb',
          'db.name': event.databaseName,
          'db.operation': event.commandName,
          ...(typeof collection === 'string' ? { 'db.mongodb.collection': collection } : {}),
        },
      },
      context.active(),
    );
    open.set(event.requestId, span);
  });
  const end = (requestId: number, error?: string) => {
    const span = open.get(requestId);
    if (!span) return;
    open.delete(requestId);
    if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    span.end();
  };
  client.on('commandSucceeded', (event) => end(event.requestId));
  client.on('commandFailed', (event) => end(event.requestId, event.failure.message));
}

/**
 * Calls `call` in an active span named `name`, ended when the call settles (or returns, if it returns no promise);
 * the call's result or error passes through.
 */
export function inSpan(tracer: Tracer, name: string, call: () => unknown): unknown {
  return tracer.startActiveSpan(name, { kind: SpanKind.CLIENT }, (span) => {
    const failed = (error: unknown) => {
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
      span.end();
      throw error;
    };
    let result: unknown;
    try {
      result = call();
    } catch (error) {
      return failed(error);
    }
    if (!(result instanceof Promise)) {
      span.end();
      return result;
    }
    return result.then((resolved: unknown) => {
      span.end();
      return resolved;
    }, failed);
  });
}
