import { executeChild, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { MelPhase, MelRunId, MelStep } from '../temporal/contracts/common.js';
import { stepWorkflowId, type ReplayStepInput, type StepResult } from '../temporal/contracts/run.js';
import { cpu, gpuTraining } from './activity-options.js';
import { melStepWorkflow } from './step.js';
import { stepFanOut } from '../mel/fan-out.js';

/**
 * Re-runs one step of a run as a new run of one step (`mel replay`): same configuration and seeds, same starting
 * policy, its own documents, so the original and the replay can be compared record by record.
 */
export async function melReplayStepWorkflow({
  config,
  data,
  step,
  policy,
  originalRunId,
}: ReplayStepInput): Promise<StepResult> {
  upsertSearchAttributes([
    { key: MelRunId, value: config.runId },
    { key: MelStep, value: step },
    { key: MelPhase, value: 'replay' },
  ]);
  await cpu.registerRun({
    config,
    data,
    workflowId: workflowInfo().workflowId,
    ...(originalRunId ? { replayOf: { runId: originalRunId, step, policy } } : {}),
  });
  const restored = await gpuTraining.restorePolicy({ policy, name: config.runId });
  const result = await executeChild(melStepWorkflow, {
    workflowId: stepWorkflowId(config.runId, step),
    args: [{ runId: config.runId, step, policy: restored, mode: config.mode, fanOut: stepFanOut(config) }],
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
