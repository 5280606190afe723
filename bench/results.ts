/** One configuration's result as docs/benchmarks.json records it, from what was measured. Pure. */
import type { StageName } from '../temporal/contracts/run.js';
import type { BenchConfig } from './configs.js';
import { sumCounts } from '../mel/fan-out.js';
import { median, medianStages, type SamplingWork, type StageMeasure, type StepMeasure } from './metrics.js';

export interface ConfigResult extends BenchConfig {
  ok: boolean;
  error: string | null;
  stepsCompleted: number;
  /** Median wall seconds of one step. */
  stepSeconds: number | null;
  /** Median per step. */
  engineBusySeconds: number | null;
  /** Median per step: wall minus engine-busy. */
  overheadSeconds: number | null;
  /** overheadSeconds / engineBusySeconds; null at zero latency (no engine time to compare with). */
  overheadRatio: number | null;
  engineSlotUtilisation: number | null;
  /** Sequences sampled per wall second of the sampling stages, over all steps (absent in older reports). */
  samplingSequencesPerSecond?: number | null;
  /**
   * Over all steps, the engines' seconds spent restoring the policy on engines that did not save it while sampling,
   * as a share of the engines' seconds in the sampling stages (absent in older reports).
   */
  samplingRestoreShare?: number | null;
  historyEventsPerStep: number | null;
  historyBytesPerStep: number | null;
  mongoBytesPerStep: number | null;
  workerPeakRssMb: number | null;
  stages: Partial<Record<StageName, StageMeasure>>;
  overheadByStep: number[];
  /** Every step's wall seconds, in order. */
  stepSecondsByStep: number[];
  /** Wall seconds the whole configuration took, setup and read-back included. */
  wallSeconds: number;
  /** Each step's CPU seconds by process group, and the host's steal time (bench/cpu-usage.ts; absent in older reports). */
  cpuSecondsByStep?: Record<string, number[]>;
}

export interface Measured {
  ok: boolean;
  error: string | null;
  steps: StepMeasure[];
  historyEvents?: number;
  historyBytes?: number;
  mongoBytes?: number | null;
  workerPeakRssMb?: number | null;
  cpuSecondsByStep?: Record<string, number[]>;
}

/** Engine-busy time below this (per step) makes a ratio meaningless noise: reported as null. */
const MIN_ENGINE_SECONDS_FOR_RATIO = 0.05;

const NO_SAMPLING: SamplingWork = { sequences: 0, seconds: 0, restoreSeconds: 0 };

function samplingTotals(steps: readonly StepMeasure[]): SamplingWork {
  return sumCounts([NO_SAMPLING, ...steps.map((step) => step.sampling)]);
}

function samplingRate(steps: readonly StepMeasure[]): number | null {
  const { sequences, seconds } = samplingTotals(steps);
  return seconds > 0 && sequences > 0 ? sequences / seconds : null;
}

function restoreShare(steps: readonly StepMeasure[], engines: number): number | null {
  const { seconds, restoreSeconds } = samplingTotals(steps);
  return seconds > 0 ? restoreSeconds / (engines * seconds) : null;
}

export function summarise(config: BenchConfig, measured: Measured, wallSeconds: number): ConfigResult {
  const { steps } = measured;
  const perStep = (total: number | null | undefined) =>
    total === null || total === undefined || steps.length === 0 ? null : total / steps.length;
  const engineBusySeconds = median(steps.map((step) => step.engineBusySeconds));
  const overheadSeconds = median(steps.map((step) => step.overheadSeconds));
  const utilisations = steps.flatMap((step) =>
    step.samplingSlotUtilisation === null ? [] : [step.samplingSlotUtilisation],
  );
  return {
    ...config,
    ok: measured.ok,
    error: measured.error,
    stepsCompleted: steps.length,
    stepSeconds: median(steps.map((step) => step.wallSeconds)),
    engineBusySeconds,
    overheadSeconds,
    overheadRatio:
      engineBusySeconds !== null &&
      overheadSeconds !== null &&
      engineBusySeconds >= MIN_ENGINE_SECONDS_FOR_RATIO
        ? overheadSeconds / engineBusySeconds
        : null,
    engineSlotUtilisation: median(utilisations),
    samplingSequencesPerSecond: samplingRate(steps),
    samplingRestoreShare: restoreShare(steps, config.engines),
    historyEventsPerStep: perStep(measured.historyEvents),
    historyBytesPerStep: perStep(measured.historyBytes),
    mongoBytesPerStep: perStep(measured.mongoBytes),
    workerPeakRssMb: measured.workerPeakRssMb ?? null,
    stages: medianStages(steps),
    overheadByStep: steps.map((step) => step.overheadSeconds),
    stepSecondsByStep: steps.map((step) => step.wallSeconds),
    wallSeconds,
    ...(measured.cpuSecondsByStep ? { cpuSecondsByStep: measured.cpuSecondsByStep } : {}),
  };
}
