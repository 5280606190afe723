/**
 * The eval family: `melEvalWorkflow` (`mel eval`), Pass@1, Avg@k and Pass@k of a saved policy on a held-out data
 * set. Its input, progress query and the payloads of its activities.
 */
import { defineQuery } from '@temporalio/workflow';
import type { EvalMetrics, EvalSettings } from '../../mel/eval.js';
import type { PolicyRef } from './common.js';

export type { EvalMetrics, EvalSettings };

export function evalWorkflowId(evalId: string): string {
  return `mel-eval/${evalId}`;
}

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

/** `melEvalWorkflow`'s input. */
export interface EvalInput extends EvalDefinition {
  evalId: string;
  /** Absent: DEFAULT_EVAL_FAN_OUT. Not part of the eval's identity: the same eval however it is split. */
  fanOut?: Partial<EvalFanOut>;
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

export const evalProgressQuery = defineQuery<EvalProgress>('evalProgress');

/**
 * How an eval splits its problems: `problemsPerChunk` per sampling (and scoring) activity, so that no single
 * activity runs for long, and `chunksInFlight` at once (one per default GPU-inference worker slot).
 */
export interface EvalFanOut {
  problemsPerChunk: number;
  chunksInFlight: number;
}

export const DEFAULT_EVAL_FAN_OUT: EvalFanOut = { problemsPerChunk: 8, chunksInFlight: 2 };

// ---- activities ----

/** `prepareEval`: registers the eval and writes its problems. */
export interface PrepareEvalInput extends EvalInput {
  /** The eval workflow's id, recorded with the eval. */
  workflowId: string;
}

export interface EvalPrepared {
  problems: number;
  /** Set when this eval has already completed: its stored result, returned without sampling again. */
  stored?: EvalResult;
}

/** A slice of the eval's problems, by index: what one scoring activity (`scoreEvalChunk`) works on. */
export interface EvalChunk {
  evalId: string;
  first: number;
  count: number;
}

/** `sampleEvalChunk`: samples the chunk's answers with the restored policy. */
export interface SampleEvalChunkInput extends EvalChunk {
  policy: PolicyRef;
}

/** `finishEval`: computes the metrics from the stored scores and records the result. */
export interface FinishEvalInput {
  evalId: string;
  /** The eval workflow's run id, recorded in the result. */
  workflowRunId: string;
}
