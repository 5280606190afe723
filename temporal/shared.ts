/**
 * The contract shared by workflows, activities, workers and clients: task queues, search attributes and the
 * shapes that travel through Temporal payloads. Workflow code imports this file, so it must stay free of I/O
 * and Node built-ins.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { EvalMetrics, EvalSettings } from '../mel/eval.js';

/** One queue per kind of hardware, so GPU workers only ever pick up GPU work. */
export const TASK_QUEUES = {
  cpu: 'mel-cpu',
  gpuInference: 'mel-gpu-inference',
  gpuTraining: 'mel-gpu-training',
} as const;

export type TaskQueueRole = keyof typeof TASK_QUEUES;

export const MelRunId = defineSearchAttributeKey('MelRunId', SearchAttributeType.KEYWORD);
export const MelStep = defineSearchAttributeKey('MelStep', SearchAttributeType.INT);
export const MelPhase = defineSearchAttributeKey('MelPhase', SearchAttributeType.KEYWORD);

/** Registered on the dev server at start-up; a server the user runs needs the same (see README). */
export const SEARCH_ATTRIBUTES = [MelRunId, MelStep, MelPhase];

/** A pointer to a document in MongoDB: what activities return instead of the data itself. */
export interface DocRef {
  collection: string;
  id: string;
}

export interface SmokeInput {
  /** Business key of this smoke run; documents are keyed by it so a retried activity overwrites, never adds. */
  smokeId: string;
  promptText: string;
  maxTokens: number;
}

export interface SmokeResult {
  record: DocRef;
  modelId: string;
  sampledTokenCount: number;
}

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

/** The policy as the engine knows it: a full training state to resume from and weights to sample with. */
export interface PolicyRef {
  /** tinker://<model>/weights/<name>: LoRA weights and optimizer state. */
  statePath: string;
  /** tinker://<model>/<name>: LoRA weights for sampling. */
  samplerPath: string;
  /** The engine model that owns both paths (it must stay loaded for sampling). */
  modelId: string;
  /** Optimizer updates applied to reach this policy. */
  updates: number;
  /** LoRA rank of the adapter: a state can only be restored into an adapter of the same rank. */
  rank: number;
}

export interface StepRef {
  runId: string;
  step: number;
}

export interface PolicyStepRef extends StepRef {
  policy: PolicyRef;
}

export interface RolloutSummary {
  prompts: number;
  trajectories: number;
  truncated: number;
}
export interface VerifySummary {
  /** Fraction of rollouts with reward 1: with 0/1 rewards, also the mean reward. */
  passRate: number;
  mixedGroups: number;
}
export interface ContrastSummary {
  pairs: number;
}
export interface SummarizeSummary {
  candidates: number;
  parsed: number;
  leaking: number;
}
export interface ValidateSummary {
  accepted: number;
  rejected: number;
}
export interface InternalizeSummary {
  grpoDatums: number;
  nllDatums: number;
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

export interface RunInput {
  runId: string;
  totalSteps: number;
  /** Carried across continue-as-new. */
  carried?: RunState;
}

export type RunPhase = 'starting' | 'running' | 'paused' | 'stopping' | 'completed' | 'stopped';

export interface RunState {
  nextStep: number;
  policy?: PolicyRef;
  paused: boolean;
  pauseReason?: string;
  stopRequested: boolean;
  /** The error of the last step that failed after all its retries; the run waits paused until resumed. */
  lastError?: { step: number; message: string };
  lastStep?: Pick<StepResult, 'step' | 'verify' | 'validate' | 'update'>;
}

export interface RunStatus extends RunState {
  runId: string;
  totalSteps: number;
  phase: RunPhase;
  /** The step whose child workflow is running; query that workflow's `stage` for its stage. */
  currentStep?: number;
}

export function runWorkflowId(runId: string): string {
  return `mel-run/${runId}`;
}

export function stepWorkflowId(runId: string, step: number): string {
  return `${runId}/step-${step}`;
}

export const statusQuery = defineQuery<RunStatus>('status');
export const pauseUpdate = defineUpdate<RunStatus, [reason?: string]>('pause');
export const resumeUpdate = defineUpdate<RunStatus>('resume');
export const stopUpdate = defineUpdate<RunStatus, [reason?: string]>('stop');
/** Step workflows report their stage to the run, so `status` shows it. */
export const stageQuery = defineQuery<StageName | undefined>('stage');

// ---- `mel eval`: Pass@1, Avg@k and Pass@k of a policy on a held-out data set ----

export type { EvalMetrics, EvalSettings };

/** The policy evaluated: the newest one of a run, or a checkpoint a run saved. */
export interface EvalTarget {
  kind: 'run' | 'checkpoint';
  /** The run that produced the policy. */
  runId: string;
  /** The step whose update produced it; null for the run's initial policy. */
  step: number | null;
  policy: PolicyRef;
}

/** What an eval is: the same eval id always means the same policy, data and settings. */
export interface EvalDefinition {
  target: EvalTarget;
  /** Read by the worker; its SHA-256 as the client saw it, so a file changed in between is refused. */
  data: { path: string; sha256: string };
  settings: EvalSettings;
}

/** What makes two evals the same: the saved policy, the data's content and the settings (not the file's path). */
export function evalIdentity({ target, data, settings }: EvalDefinition) {
  return { statePath: target.policy.statePath, data: data.sha256, settings };
}

export interface EvalInput extends EvalDefinition {
  evalId: string;
}

/** A slice of the eval's problems, by index: what one sampling and one scoring activity work on. */
export interface EvalChunk {
  evalId: string;
  first: number;
  count: number;
}

export interface EvalPrepared {
  problems: number;
  /** Set when this eval has already completed: its stored result, returned without sampling again. */
  stored?: EvalResult;
}

export interface EvalResult {
  evalId: string;
  /** The workflow run that sampled and scored it (a later start returns this stored result). */
  workflowId: string;
  workflowRunId: string;
  target: Omit<EvalTarget, 'policy'> & { statePath: string };
  data: EvalDefinition['data'];
  settings: EvalSettings;
  metrics: EvalMetrics;
  /** Answers cut off by the token limit (greedy and sampled). */
  truncated: number;
  completedAt: string;
}

export type EvalPhase = 'preparing' | 'sampling' | 'finishing' | 'completed';

export interface EvalProgress {
  evalId: string;
  phase: EvalPhase;
  problems: number;
  problemsSampled: number;
  problemsScored: number;
}

export function evalWorkflowId(evalId: string): string {
  return `mel-eval/${evalId}`;
}

/** Problems per sampling (and scoring) activity, so that no single activity runs for long. */
export const EVAL_CHUNK_PROBLEMS = 8;

export const evalProgressQuery = defineQuery<EvalProgress>('evalProgress');
