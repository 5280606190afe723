/**
 * An engine whose every method call is timed and reported (telemetry/mel-metrics.ts), and traced as a span
 * `engine <method>` when a tracer is given (telemetry/tracing.ts), without changing what it does: the call's result
 * or error passes through untouched. `observe` must not throw (melMetrics' never does).
 */
import type { Tracer } from '@opentelemetry/api';
import type { SampledSequence } from '../engine/engine.js';
import type { EngineCall } from './mel-metrics.js';
import { inSpan } from './tracing.js';

export function observedEngine<T extends object>(
  engine: T,
  observe: (call: EngineCall) => void,
  tracer?: Tracer,
): T {
  return new Proxy(engine, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || typeof key !== 'string' || key === 'constructor') return value;
      return (...args: unknown[]) => {
        const started = performance.now();
        const report = (ok: boolean, result?: unknown) =>
          observe({
            operation: key,
            ms: performance.now() - started,
            ok,
            ...(ok && key === 'sample' ? { sampledTokens: sampledTokens(result) } : {}),
          });
        const call = () => (value as (...a: unknown[]) => unknown).apply(target, args);
        const result: unknown = tracer ? inSpan(tracer, `engine ${key}`, call) : call();
        if (!(result instanceof Promise)) return result;
        return result.then(
          (resolved: unknown) => {
            report(true, resolved);
            return resolved;
          },
          (error: unknown) => {
            report(false);
            throw error;
          },
        );
      };
    },
  });
}

function sampledTokens(result: unknown): number {
  if (!Array.isArray(result)) return 0;
  return (result as SampledSequence[]).reduce((sum, sequence) => sum + (sequence.tokens?.length ?? 0), 0);
}
