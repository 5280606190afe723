/**
 * From what one measured run left behind (its step workflows' histories, the engine double's timeline of busy
 * intervals) to the numbers the benchmark reports: per-step wall and engine time, overhead, per-stage breakdown,
 * slot utilisation. Pure.
 */
import { targetLength } from '../engine-double/solutions.js';
import { engineUsage, type EngineInterval } from '../engine-double/timeline.js';
import { seededRandom } from '../mel/random.js';
import { STAGES, type StageName } from '../temporal/contracts/run.js';

/** One activity of a step, as its history shows it: scheduled, then closed (completed, failed, timed out). */
export interface ActivitySpan {
  activity: string;
  scheduledMs: number;
  closedMs: number;
}

export interface StepSpans {
  step: number;
  startMs: number;
  endMs: number;
  historyEvents: number;
  historyBytes: number;
  activities: ActivitySpan[];
}

export interface StageMeasure {
  wallSeconds: number;
  engineSeconds: number;
}

export interface StepMeasure {
  step: number;
  wallSeconds: number;
  engineBusySeconds: number;
  overheadSeconds: number;
  /** Busy slot-seconds over available slot-seconds during the sampling stages; null without a slot limit. */
  samplingSlotUtilisation: number | null;
  /**
   * Sequences the engines sampled in the sampling stages, those stages' wall seconds (each from its first activity
   * scheduled to its last closed), and the engine seconds spent in them restoring the policy on an engine that did
   * not save it.
   */
  sampling: SamplingWork;
  stages: Partial<Record<StageName, StageMeasure>>;
}

/** Activity type → stage; `recordStep` and anything else is bookkeeping, counted as overhead. */
const STAGE_OF_ACTIVITY: Record<string, StageName> = {
  rollout: 'rollout',
  verify: 'verify',
  contrast: 'contrast',
  summarize: 'summarize',
  validate: 'validate',
  internalize: 'internalize',
  policyUpdate: 'policy-update',
  // The GRPO datums sent ahead of the policy update, while the reflection stages sample.
  accumulateGrpoGradients: 'policy-update',
};

const SAMPLING_STAGES: readonly StageName[] = ['rollout', 'summarize', 'validate'];

export function measureStep(
  spans: StepSpans,
  timeline: readonly EngineInterval[],
  maxSlots: number,
): StepMeasure {
  const wallSeconds = (spans.endMs - spans.startMs) / 1000;
  const engineBusySeconds = engineUsage(timeline, spans.startMs, spans.endMs, maxSlots).busySeconds;
  const stages: Partial<Record<StageName, StageMeasure>> = {};
  let slotSeconds = 0;
  let availableSlotSeconds = 0;
  // A stage's chunks (and internalize's two halves) run side by side: its time is while any of them was open.
  for (const stage of STAGES) {
    const windows = openWindows(
      spans.activities.filter((span) => STAGE_OF_ACTIVITY[span.activity] === stage),
    );
    if (windows.length === 0) continue;
    const measure = { wallSeconds: 0, engineSeconds: 0 };
    for (const [fromMs, toMs] of windows) {
      const usage = engineUsage(timeline, fromMs, toMs, maxSlots);
      measure.wallSeconds += (toMs - fromMs) / 1000;
      measure.engineSeconds += usage.busySeconds;
      if (SAMPLING_STAGES.includes(stage)) {
        slotSeconds += usage.slotSeconds;
        availableSlotSeconds += (maxSlots * (toMs - fromMs)) / 1000;
      }
    }
    stages[stage] = measure;
  }
  return {
    step: spans.step,
    wallSeconds,
    engineBusySeconds,
    overheadSeconds: wallSeconds - engineBusySeconds,
    samplingSlotUtilisation:
      maxSlots > 0 && availableSlotSeconds > 0 ? slotSeconds / availableSlotSeconds : null,
    sampling: samplingWork(spans.activities, timeline),
    stages,
  };
}

export interface SamplingWork {
  sequences: number;
  seconds: number;
  restoreSeconds: number;
}

/**
 * The engine calls of a policy restore (activities/restored-samplers.ts): an engine that did not save the policy
 * creates a model, loads the saved state into it and saves its sampler weights. The engine that trained the policy
 * makes none of these calls while sampling.
 */
const RESTORE_ROUTES = new Set(['create_model', 'load_weights', 'save_weights_for_sampler']);

/**
 * What the sampling stages sampled and how long they took: a stage's chunks run side by side, so its time is the
 * window from its first chunk scheduled to its last closed; its sequences are the `asample` calls started in it,
 * its restores the restore calls started in it.
 */
export function samplingWork(
  activities: readonly ActivitySpan[],
  timeline: readonly EngineInterval[],
): SamplingWork {
  const work: SamplingWork = { sequences: 0, seconds: 0, restoreSeconds: 0 };
  for (const stage of SAMPLING_STAGES) {
    const spans = activities.filter((span) => STAGE_OF_ACTIVITY[span.activity] === stage);
    if (spans.length === 0) continue;
    const from = Math.min(...spans.map((span) => span.scheduledMs));
    const to = Math.max(...spans.map((span) => span.closedMs));
    work.seconds += (to - from) / 1000;
    for (const interval of timeline) {
      if (interval.startMs < from || interval.startMs > to) continue;
      if (interval.route === 'asample') work.sequences += interval.sequences;
      if (RESTORE_ROUTES.has(interval.route))
        work.restoreSeconds += (interval.endMs - interval.startMs) / 1000;
    }
  }
  return work;
}

/** The times at least one of `spans` was open (scheduled, not yet closed), as disjoint windows in order. */
export function openWindows(spans: readonly ActivitySpan[]): [number, number][] {
  const windows: [number, number][] = [];
  for (const span of [...spans].sort((a, b) => a.scheduledMs - b.scheduledMs)) {
    const last = windows.at(-1);
    if (last && span.scheduledMs <= last[1]) last[1] = Math.max(last[1], span.closedMs);
    else windows.push([span.scheduledMs, span.closedMs]);
  }
  return windows;
}

/**
 * The busy share of `slots` that an ideal scheduler reaches over one synchronous rollout of `sequences` of the
 * double's lengths (uniform in ½–1½ × the mean, `targetLength`): all queued at once, each started on the first slot
 * that frees up, in an order that does not know their lengths; prefill and everything outside the slots cost
 * nothing. The step's last sequences run while other slots idle, so no synchronous step reaches 100 %. Mean of
 * `trials` seeds.
 */
export function slotCeiling(sequences: number, slots: number, trials = 20): number {
  if (sequences <= 0 || slots <= 0)
    throw new Error(`no slot ceiling for ${sequences} sequences on ${slots} slots`);
  let total = 0;
  for (let trial = 0; trial < trials; trial++) {
    const random = seededRandom(trial);
    const freeAt = new Array<number>(Math.min(slots, sequences)).fill(0);
    let busy = 0;
    for (let i = 0; i < sequences; i++) {
      const length = targetLength(random, 1_000);
      const slot = freeAt.indexOf(Math.min(...freeAt));
      freeAt[slot]! += length;
      busy += length;
    }
    total += busy / (slots * Math.max(...freeAt));
  }
  return total / trials;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The median over steps of each stage's wall and engine seconds. */
export function medianStages(steps: readonly StepMeasure[]): Partial<Record<StageName, StageMeasure>> {
  const result: Partial<Record<StageName, StageMeasure>> = {};
  for (const name of STAGES) {
    const measured = steps.map((step) => step.stages[name]).filter((stage) => stage !== undefined);
    if (measured.length === 0) continue;
    result[name] = {
      wallSeconds: median(measured.map((stage) => stage.wallSeconds))!,
      engineSeconds: median(measured.map((stage) => stage.engineSeconds))!,
    };
  }
  return result;
}
