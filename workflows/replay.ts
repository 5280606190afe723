import { executeChild, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import {
  MelPhase,
  MelRunId,
  MelStep,
  stepWorkflowId,
  type PolicyRef,
  type StepResult,
} from '../temporal/shared.js';
import type { RunConfig } from '../mel/run-config.js';
import { cpu, gpuTraining } from './activity-options.js';
import { melStepWorkflow } from './step.js';

export interface ReplayStepInput {
  /** The original run's configuration under the replay's own run id, so the replay writes its own documents. */
  config: RunConfig;
  step: number;
  /** The policy the original step started from. */
  policy: PolicyRef;
}

/**
 * Re-runs one step of a run as a new run of one step (`mel replay`): same configuration and seeds, same starting
 * policy, its own documents, so the original and the replay can be compared record by record.
 */
export async function melReplayStepWorkflow({ config, step, policy }: ReplayStepInput): Promise<StepResult> {
  upsertSearchAttributes([
    { key: MelRunId, value: config.runId },
    { key: MelStep, value: step },
    { key: MelPhase, value: 'replay' },
  ]);
  await cpu.registerRun({ config, workflowId: workflowInfo().workflowId });
  const restored = await gpuTraining.restorePolicy({ policy, name: config.runId });
  const result = await executeChild(melStepWorkflow, {
    workflowId: stepWorkflowId(config.runId, step),
    args: [{ runId: config.runId, step, policy: restored }],
    typedSearchAttributes: [
      { key: MelRunId, value: config.runId },
      { key: MelStep, value: step },
    ],
    parentClosePolicy: 'REQUEST_CANCEL',
  });
  await gpuTraining.releasePolicy({ policy: result.policy });
  upsertSearchAttributes([{ key: MelPhase, value: 'completed' }]);
  return result;
}
