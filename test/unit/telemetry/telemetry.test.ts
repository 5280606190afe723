import { SpanStatusCode } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { MetricMeter, MetricTags } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../common/env.js';
import type { StepMetrics } from '../../../store/documents.js';
import { melMetrics, stepGauges } from '../../../telemetry/mel-metrics.js';
import { observedEngine } from '../../../telemetry/observed-engine.js';
import { parsePrometheusText } from '../../../telemetry/prometheus-text.js';
import { telemetryOptions, telemetrySettings } from '../../../telemetry/settings.js';

const step: StepMetrics = {
  prompts: 4,
  trajectories: 16,
  passRate: 0.25,
  mixedGroups: 2,
  pairs: 3,
  candidates: 3,
  parsedCandidates: 2,
  accepted: 1,
  rejected: 1,
  retentionRatio: 1 / 3,
  grpoLoss: -0.5,
  nllLoss: null,
  stageDurationsMs: { rollout: 1500 },
};

/** A meter that records what was set or added, by instrument and tags. */
function recordingMeter() {
  const values = new Map<string, number>();
  const key = (name: string, tags: MetricTags = {}) => `${name}${JSON.stringify(tags)}`;
  const add = (name: string) => (value: number, tags?: MetricTags) =>
    values.set(key(name, tags), (values.get(key(name, tags)) ?? 0) + value);
  const set = (name: string) => (value: number, tags?: MetricTags) => {
    if (value < 0) throw new Error('MetricGauge value must be non-negative');
    values.set(key(name, tags), value);
  };
  const meter = {
    createGauge: (name: string) => ({ set: set(name) }),
    createCounter: (name: string) => ({ add: add(name) }),
    createUpDownCounter: (name: string) => ({ add: add(name) }),
    createHistogram: (name: string) => ({ record: add(`${name}:sum`) }),
  } as unknown as MetricMeter;
  return { meter, value: (name: string, tags: MetricTags = {}) => values.get(key(name, tags)) };
}

describe('stepGauges', () => {
  it('names each step quantity, derives the acceptance rate and leaves out what is null', () => {
    const gauges = Object.fromEntries(stepGauges(7, step));
    expect(gauges).toMatchObject({
      mel_step: 7,
      mel_step_pass_rate: 0.25,
      mel_step_accepted: 1,
      mel_step_acceptance_rate: 0.5,
      mel_step_retention_ratio: 1 / 3,
      mel_step_grpo_loss: -0.5,
    });
    expect(gauges).not.toHaveProperty('mel_step_nll_loss');
    const none = Object.fromEntries(
      stepGauges(0, { ...step, accepted: 0, rejected: 0, retentionRatio: null }),
    );
    expect(none).not.toHaveProperty('mel_step_acceptance_rate');
    expect(none).not.toHaveProperty('mel_step_retention_ratio');
  });
});

describe('melMetrics', () => {
  it('sets the step gauges per run, negative losses included, to the latest value', () => {
    const { meter, value } = recordingMeter();
    const metrics = melMetrics(() => meter);
    metrics.stepRecorded('r1', 0, step);
    metrics.stepRecorded('r1', 1, { ...step, grpoLoss: 0.25 });
    metrics.stepRecorded('r2', 0, { ...step, grpoLoss: -2 });
    expect(value('mel_step', { run_id: 'r1' })).toBe(1);
    expect(value('mel_step_grpo_loss', { run_id: 'r1' })).toBe(0.25);
    expect(value('mel_step_grpo_loss', { run_id: 'r2' })).toBe(-2);
    expect(value('mel_step_stage_seconds', { run_id: 'r1', stage: 'rollout' })).toBe(1.5);
  });

  it('reports, never throws, when the meter refuses', () => {
    const errors: unknown[] = [];
    const metrics = melMetrics(
      () => {
        throw new Error('no runtime');
      },
      (error) => errors.push(error),
    );
    expect(() => metrics.stepRecorded('r', 0, step)).not.toThrow();
    expect(() => metrics.engineCall({ operation: 'sample', ms: 1, ok: true })).not.toThrow();
    expect(errors).toHaveLength(2);
  });

  it('counts sampled tokens and records latency by operation and outcome', () => {
    const { meter, value } = recordingMeter();
    const metrics = melMetrics(() => meter);
    metrics.engineCall({ operation: 'sample', ms: 10, ok: true, sampledTokens: 5 });
    metrics.engineCall({ operation: 'sample', ms: 30, ok: true, sampledTokens: 7 });
    metrics.engineCall({ operation: 'optimStep', ms: 4, ok: false });
    expect(value('mel_engine_sampled_tokens', { operation: 'sample' })).toBe(12);
    expect(value('mel_engine_request_latency:sum', { operation: 'sample', outcome: 'ok' })).toBe(40);
    expect(value('mel_engine_request_latency:sum', { operation: 'optimStep', outcome: 'error' })).toBe(4);
  });
});

describe('observedEngine', () => {
  class Engine {
    readonly lossReduction = 'skyrl';
    async sample() {
      return [{ tokens: [1, 2, 3] }, { tokens: [4] }];
    }
    async optimStep(): Promise<void> {
      throw new Error('engine down');
    }
  }

  it('passes results, errors and properties through and reports each call', async () => {
    const calls: unknown[] = [];
    const engine = observedEngine(new Engine(), (call) => calls.push(call));
    expect(engine.lossReduction).toBe('skyrl');
    expect(await engine.sample()).toHaveLength(2);
    await expect(engine.optimStep()).rejects.toThrow('engine down');
    expect(calls).toMatchObject([
      { operation: 'sample', ok: true, sampledTokens: 4 },
      { operation: 'optimStep', ok: false },
    ]);
  });

  it('traces each call as a span, ended with its outcome, when given a tracer', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const engine = observedEngine(new Engine(), () => undefined, provider.getTracer('test'));
    expect(await engine.sample()).toHaveLength(2);
    await expect(engine.optimStep()).rejects.toThrow('engine down');
    expect(engine.lossReduction).toBe('skyrl');
    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => [span.name, span.status.code, span.status.message])).toEqual([
      ['engine sample', SpanStatusCode.UNSET, undefined],
      ['engine optimStep', SpanStatusCode.ERROR, 'engine down'],
    ]);
  });
});

describe('parsePrometheusText', () => {
  it('reads names, labels (with escapes) and values, skipping comments and junk', () => {
    const samples = parsePrometheusText(
      [
        '# HELP mel_step the newest recorded step',
        'mel_step{run_id="a\\"b",service_name="x"} 3',
        'temporal_request 12 1700000000',
        'not a sample line',
        'mel_step_grpo_loss{run_id="r"} -0.5',
      ].join('\n'),
    );
    expect(samples).toEqual([
      { name: 'mel_step', labels: { run_id: 'a"b', service_name: 'x' }, value: 3 },
      { name: 'temporal_request', labels: {}, value: 12 },
      { name: 'mel_step_grpo_loss', labels: { run_id: 'r' }, value: -0.5 },
    ]);
    expect(parsePrometheusText('a 1\nb 2\nc 3', 2)).toHaveLength(2);
  });
});

describe('telemetry settings', () => {
  it('exports nothing by default, Prometheus or OTLP when asked, never both', () => {
    expect(telemetryOptions(telemetrySettings({}))).toBeUndefined();
    expect(telemetryOptions(telemetrySettings({ MEL_METRICS_PROMETHEUS: '127.0.0.1:9464' }))).toEqual({
      metrics: { prometheus: { bindAddress: '127.0.0.1:9464' } },
    });
    expect(telemetryOptions(telemetrySettings({ MEL_METRICS_OTLP_URL: 'http://collector:4317' }))).toEqual({
      metrics: { otel: { url: 'http://collector:4317' } },
    });
    expect(() =>
      telemetryOptions(
        telemetrySettings({ MEL_METRICS_PROMETHEUS: '0.0.0.0:1', MEL_METRICS_OTLP_URL: 'http://c:4317' }),
      ),
    ).toThrow(ConfigError);
    expect(() => telemetrySettings({ MEL_METRICS_PROMETHEUS: '9464' })).toThrow(/MEL_METRICS_PROMETHEUS/);
    expect(telemetrySettings({ MEL_TRACES_OTLP_URL: 'http://c:4318/v1/traces' }).MEL_TRACES_OTLP_URL).toBe(
      'http://c:4318/v1/traces',
    );
    expect(() => telemetrySettings({ MEL_TRACES_OTLP_URL: 'collector:4318' })).toThrow(/MEL_TRACES_OTLP_URL/);
  });
});
