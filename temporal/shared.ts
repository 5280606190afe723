/**
 * The contract shared by workflows, activities, workers and clients: task queues, search attributes and the
 * shapes that travel through Temporal payloads. Workflow code imports this file, so it must stay free of I/O
 * and Node built-ins.
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
