/**
 * MEL's own metrics, beside the SDK's: each recorded step's numbers as gauges tagged with the run (set again, not
 * added, when a step is recorded twice), and every engine call's latency and sampled tokens. Instruments come from
 * the worker runtime's metric meter, so they go wherever its telemetry goes (telemetry/settings.ts).
 */
import type { MetricMeter, MetricTags } from '@temporalio/common';
import type { StepMetrics } from '../store/documents.js';

export interface MelMetrics {
  stepRecorded(runId: string, step: number, metrics: StepMetrics): void;
  engineCall(call: EngineCall): void;
}

export interface EngineCall {
  /** The engine method: sample, forwardBackward, optimStep, … */
  operation: string;
  ms: number;
  ok: boolean;
  /** Tokens the call sampled (sample only). */
  sampledTokens?: number;
}

/** The gauges of one recorded step: name → value, null values (no candidate, no NLL term) left out. */
export function stepGauges(step: number, metrics: StepMetrics): [string, number][] {
  const judged = metrics.accepted + metrics.rejected;
  const gauges: [string, number | null][] = [
    ['mel_step', step],
    ['mel_step_pass_rate', metrics.passRate],
    ['mel_step_mixed_groups', metrics.mixedGroups],
    ['mel_step_pairs', metrics.pairs],
    ['mel_step_candidates', metrics.candidates],
    ['mel_step_accepted', metrics.accepted],
    ['mel_step_rejected', metrics.rejected],
    ['mel_step_acceptance_rate', judged ? metrics.accepted / judged : null],
    ['mel_step_retention_ratio', metrics.retentionRatio],
    ['mel_step_grpo_loss', metrics.grpoLoss],
    ['mel_step_nll_loss', metrics.nllLoss],
  ];
  return gauges.filter((entry): entry is [string, number] => entry[1] !== null && Number.isFinite(entry[1]));
}

export const STEP_GAUGE_HELP: Record<string, string> = {
  mel_step: 'the newest recorded step',
  mel_step_pass_rate: 'mean 0/1 reward of the step’s rollouts',
  mel_step_mixed_groups: 'prompts with both correct and wrong samples',
  mel_step_pairs: 'contrastive pairs',
  mel_step_candidates: 'meta-experience candidates',
  mel_step_accepted: 'meta-experiences accepted by replay',
  mel_step_rejected: 'meta-experiences rejected',
  mel_step_acceptance_rate: 'accepted / judged',
  mel_step_retention_ratio: 'accepted / candidates',
  mel_step_grpo_loss: 'GRPO loss of the update',
  mel_step_nll_loss: 'NLL loss of the internalized meta-experiences',
};

/** Losses can be negative, which the SDK's gauges refuse: these are up-down counters moved to the new value. */
const SIGNED = new Set(['mel_step_grpo_loss', 'mel_step_nll_loss']);

type Gauge = ReturnType<MetricMeter['createGauge']>;
type UpDown = ReturnType<NonNullable<MetricMeter['createUpDownCounter']>>;

function upDownCounter(meter: MetricMeter, name: string, help: string | undefined): UpDown {
  if (!meter.createUpDownCounter)
    throw new Error(`this metric meter has no up-down counters: ${name} is not recorded`);
  return meter.createUpDownCounter(name, '', help);
}

/**
 * A gauge that may go below zero: an up-down counter plus the value this process last set per tag set (a fresh
 * process exports the counter from zero, so the first set moves it by the whole value).
 */
function signedGauge(counter: UpDown): Pick<Gauge, 'set'> {
  const last = new Map<string, number>();
  return {
    set(value: number, tags: MetricTags = {}) {
      const key = JSON.stringify(Object.entries(tags).sort());
      counter.add(value - (last.get(key) ?? 0), tags);
      last.set(key, value);
    },
  };
}

/**
 * Instruments made on first use, so a process that records nothing creates none. Recording never throws: a metric
 * that cannot be recorded must not fail the step or engine call it describes.
 */
export function melMetrics(
  meter: () => MetricMeter,
  onError: (error: unknown) => void = () => {},
): MelMetrics {
  const gauges = new Map<string, Pick<Gauge, 'set'>>();
  const gauge = (name: string) => {
    let instrument = gauges.get(name);
    if (!instrument) {
      const help = STEP_GAUGE_HELP[name];
      instrument = SIGNED.has(name)
        ? signedGauge(upDownCounter(meter(), name, help))
        : meter().createGauge(name, 'float', '', help);
      gauges.set(name, instrument);
    }
    return instrument;
  };
  let latency: ReturnType<MetricMeter['createHistogram']> | undefined;
  let tokens: ReturnType<MetricMeter['createCounter']> | undefined;
  let stageDuration: Gauge | undefined;
  const guarded =
    <A extends unknown[]>(record: (...args: A) => void) =>
    (...args: A) => {
      try {
        record(...args);
      } catch (error) {
        onError(error);
      }
    };
  return {
    stepRecorded: guarded((runId: string, step: number, metrics: StepMetrics) => {
      const tags: MetricTags = { run_id: runId };
      for (const [name, value] of stepGauges(step, metrics)) gauge(name).set(value, tags);
      stageDuration ??= meter().createGauge('mel_step_stage_seconds', 'float', 's', 'duration of a stage');
      for (const [stage, ms] of Object.entries(metrics.stageDurationsMs)) {
        if (ms !== undefined) stageDuration.set(ms / 1000, { ...tags, stage });
      }
    }),
    engineCall: guarded(({ operation, ms, ok, sampledTokens }: EngineCall) => {
      latency ??= meter().createHistogram('mel_engine_request_latency', 'float', 'ms', 'engine call latency');
      latency.record(ms, { operation, outcome: ok ? 'ok' : 'error' });
      if (sampledTokens) {
        tokens ??= meter().createCounter(
          'mel_engine_sampled_tokens',
          'tokens',
          'tokens sampled by the engine',
        );
        tokens.add(sampledTokens, { operation });
      }
    }),
  };
}
