/**
 * What every workflow family shares: task queues, search attributes and the policy reference. Workflow code
 * imports the contracts, so they must stay free of I/O and Node built-ins.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

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
  /**
   * The engine that holds `modelId` and the sampler (`engineIdOf`); a worker on another engine samples a copy
   * restored there from `statePath`. Absent on references made before engines were named: every worker's own.
   */
  engine?: string;
}

// ---- policy lifecycle activities (gpu-training), used by the run, replay and eval workflows ----

/** `restorePolicy`: a loaded copy of a saved policy in a fresh engine model, its sampler weights saved as `name`. */
export interface RestorePolicyInput {
  policy: PolicyRef;
  name: string;
}

/** `releasePolicy`: frees the engine slot of a policy's model; its saved state stays. */
export interface ReleasePolicyInput {
  policy: PolicyRef;
}
