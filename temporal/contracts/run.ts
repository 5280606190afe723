/**
 * The training-run family: `melRunWorkflow` (one per run), its child `melStepWorkflow` (one per step) and
 * `melReplayStepWorkflow` (`mel replay`). Workflow inputs, the run's status, queries and updates, and the payloads
 * of every activity these workflows call. Only ids, counts and policy references: the data stays in MongoDB.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { DatasetPin } from '../../mel/dataset.js';
import type { ItemRange } from '../../mel/fan-out.js';
import type { RunConfig, RunMode } from '../../mel/run-config.js';
import type { PolicyRef } from './common.js';

// ---- workflows ----

export function runWorkflowId(runId: string): string {
  return `mel-run/${runId}`;
}

export function stepWorkflowId(runId: string, step: number): string {
  return `${runId}/step-${step}`;
}

export interface MelRunInput {
  runId: string;
  totalSteps: number;
  config: RunConfig;
  /** The data set as the client read it before starting the run; every activity that reads it checks its hash. */
  data: DatasetPin;
  /** Carried across continue-as-new. */
  carried?: RunState;
  /**
   * For tests: continue as new after this many steps of one execution (≥ 1), as well as when Temporal suggests
   * it (`workflowInfo().continueAsNewSuggested`, the only trigger in production). Default: off.
   */
  continueAsNewAfterSteps?: number;
}

export type RunPhase = 'starting' | 'running' | 'paused' | 'stopping' | 'completed' | 'stopped';

/** The part of a run's state that survives continue-as-new. */
export interface RunState {
  nextStep: number;
  policy?: PolicyRef;
  paused: boolean;
  pauseReason?: string;
  stopRequested: boolean;
  /**
   * The error of the last step that failed after all its retries, or of the run's start (`starting`: registering
   * the run or creating its first policy, before step `step`); the run waits paused until resumed.
   */
  lastError?: { step: number; message: string; starting?: true };
  lastStep?: Pick<StepResult, 'step' | 'verify' | 'validate' | 'update'>;
}

export interface RunStatus extends RunState {
  runId: string;
  totalSteps: number;
  phase: RunPhase;
  /** The step whose child workflow is running; query that workflow's `stage` for its stage. */
  currentStep?: number;
}

export const statusQuery = defineQuery<RunStatus>('status');
export const pauseUpdate = defineUpdate<RunStatus, [reason?: string]>('pause');
export const resumeUpdate = defineUpdate<RunStatus>('resume');
export const stopUpdate = defineUpdate<RunStatus, [reason?: string]>('stop');
/** Step workflows report their stage to the run, so `status` shows it. */
export const stageQuery = defineQuery<StageName | undefined>('stage');

export interface ReplayStepInput {
  /** The original run's configuration under the replay's own run id, so the replay writes its own documents. */
  config: RunConfig;
  /** The original run's data set pin: a replay trains on exactly the problems the original step did. */
  data: DatasetPin;
  step: number;
  /** The policy the original step started from. */
  policy: PolicyRef;
  /** The original run (absent from replays started before it was passed). */
  originalRunId?: string;
}

// ---- one step ----

/** The stages of one MEL step, in order. Each is one activity. */
export const STAGES = [
  'rollout',
  'verify',
  'contrast',
  'summarize',
  'validate',
  'internalize',
  'policy-update',
] as const;
export type StageName = (typeof STAGES)[number];

/** The stages the GRPO baseline (`mode: 'grpo'`) skips: no pairs, no meta-experiences. */
export const REFLECTION_STAGES = [
  'contrast',
  'summarize',
  'validate',
] as const satisfies readonly StageName[];

export function stagesOf(mode: RunMode = 'mel'): StageName[] {
  const skipped: readonly StageName[] = mode === 'grpo' ? REFLECTION_STAGES : [];
  return STAGES.filter((name) => !skipped.includes(name));
}

/** The input of the stages that only read the step's documents (verify, contrast, internalize). */
export interface StepRef {
  runId: string;
  step: number;
}

/**
 * internalize's input: the step's datums of one kind, or of both when absent (histories recorded before); with
 * `items`, the GRPO datums of those prompts only, built as the chunk is verified.
 */
export interface InternalizeRef extends StepRef {
  datums?: 'grpo' | 'nll';
  items?: ItemRange;
}

/** The input of the stages that sample with or update the policy. */
export interface PolicyStepRef extends StepRef {
  policy: PolicyRef;
}

/** A CPU stage's input: the step's prompts in `items`, or all of them when absent. */
export interface StepChunkRef extends StepRef {
  items?: ItemRange;
}

/** A sampling stage's input: the step's items in `items`, or all of them when absent. */
export interface SamplingChunkRef extends PolicyStepRef {
  items?: ItemRange;
}

/** How a step splits its sampling stages into activities any inference worker can take (`fanOut` in the run config). */
export interface StepFanOut {
  /** The step's prompts (the run's batch size). */
  prompts: number;
  /** Prompts per rollout activity; each samples all of its prompts at once. */
  promptsPerChunk: number;
  /** Reflections or replays per summarize or validate activity; each samples all of its items at once. */
  generationsPerChunk: number;
}

/** `melStepWorkflow`'s input. */
export interface StepInput extends PolicyStepRef {
  /** Absent in histories recorded before the GRPO baseline existed: 'mel'. */
  mode?: RunMode;
  /** Absent in histories recorded before the fan-out: each sampling stage is one activity. */
  fanOut?: StepFanOut;
}

export interface RolloutSummary {
  prompts: number;
  /** The usable ones, which the step trains on. */
  trajectories: number;
  truncated: number;
  /** Items left out as unusable (docs/mel.md, "Bad items"); absent in histories recorded before. */
  excludedPrompts?: number;
  excludedSamples?: number;
  /** How many items each reason excluded; absent in histories recorded before. */
  exclusionReasons?: Record<string, number>;
}
export interface VerifySummary {
  /** Fraction of rollouts with reward 1: with 0/1 rewards, also the mean reward. */
  passRate: number;
  mixedGroups: number;
  /** The scored rollouts and the correct ones, from which chunks' summaries combine; absent in older histories. */
  rollouts?: number;
  correct?: number;
}
export interface ContrastSummary {
  pairs: number;
}
export interface SummarizeSummary {
  candidates: number;
  parsed: number;
  leaking: number;
  /** Candidates whose reflection could not be sampled; absent in histories recorded before. */
  samplingFailed?: number;
}
export interface ValidateSummary {
  accepted: number;
  rejected: number;
}
export interface InternalizeSummary {
  grpoDatums: number;
  nllDatums: number;
}
/** The GRPO datums' gradients sent ahead of the step's policy update (`accumulateGrpoGradients`). */
export interface GrpoGradientsInput extends PolicyStepRef {
  /**
   * The most NLL datums the step can have: its pairs, one meta-experience each. Engines that divide the gradient by
   * the step's datum count (SkyRL) need it; absent in histories recorded before, which send nothing there.
   */
  nllAtMost?: number;
}

/**
 * What `accumulateGrpoGradients` did: sent the step's GRPO datums to the training model ahead of the policy update,
 * or why not (`reason`), in which case the policy update sends them itself.
 */
export interface GrpoGradientsSummary {
  sent: boolean;
  grpoDatums: number;
  reason?: string;
}
export interface PolicyUpdateSummary {
  policy: PolicyRef;
  grpoLoss: number | null;
  nllLoss: number | null;
}

export interface StepResult {
  step: number;
  policy: PolicyRef;
  rollout: RolloutSummary;
  verify: VerifySummary;
  contrast: ContrastSummary;
  summarize: SummarizeSummary;
  validate: ValidateSummary;
  internalize: InternalizeSummary;
  update: PolicyUpdateSummary;
  stageDurationsMs: Partial<Record<StageName, number>>;
}

// ---- bookkeeping activities (cpu) and the run's starting policy (gpu-training) ----

/**
 * `registerRun`: stores the run's configuration and data set pin once (a second start with another configuration
 * or data set is refused).
 */
export interface RegisterRunInput {
  config: RunConfig;
  data: DatasetPin;
  workflowId: string;
  /** A replay (`mel replay`): the policy it restores, so `checkpoints.keepLast` of the original never deletes it. */
  replayOf?: { runId: string; step: number; policy: PolicyRef };
}

/** `initPolicy`: the run's starting policy, a fresh LoRA adapter saved once. */
export interface InitPolicyInput {
  runId: string;
}

/** `pruneCheckpoints`: after a step, what `checkpoints.keepLast` deleted. */
export interface PruneSummary {
  /** Steps whose saved state and sampler weights were deleted now. */
  prunedSteps: number[];
  /** The engine has no delete route: nothing can be pruned. */
  unsupported?: true;
}

/** `recordStep`: writes the step's metrics once its stages have all run. */
export interface RecordStepInput {
  runId: string;
  result: StepResult;
}
