/** Client side of a training run: start (or attach to) a run workflow and follow its progress. */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { MelRunId, TASK_QUEUES } from '../temporal/contracts/common.js';
import {
  runWorkflowId,
  stageQuery,
  statusQuery,
  stepWorkflowId,
  type RunStatus,
  type StageName,
} from './contracts/run.js';
import { melRunWorkflow } from '../workflows/index.js';
import type { DatasetPin } from '../mel/dataset.js';
import { datasetPin, loadRunDataset } from '../mel/node.js';
import type { RunConfig } from '../mel/run-config.js';

export type RunHandle = WorkflowHandleWithFirstExecutionRunId<typeof melRunWorkflow>;

/**
 * Starts the run's workflow on the data set `data` pins, or attaches to it if a run with this id is already going.
 * Without `data`, the data set is read, checked and pinned here (`loadRunDataset` throws on a bad one).
 */
export async function startRun(client: Client, config: RunConfig, data?: DatasetPin): Promise<RunHandle> {
  data ??= datasetPin(await loadRunDataset(config));
  return client.workflow.start(melRunWorkflow, {
    taskQueue: TASK_QUEUES.cpu,
    workflowId: runWorkflowId(config.runId),
    workflowIdConflictPolicy: 'USE_EXISTING',
    args: [{ runId: config.runId, totalSteps: config.steps, config, data }],
    typedSearchAttributes: [{ key: MelRunId, value: config.runId }],
  });
}

export interface Progress {
  status: RunStatus;
  stage?: StageName;
}

/** The run's status, plus the stage of the step that is running (queried from the step's own workflow). */
export async function currentProgress(client: Client, runId: string): Promise<Progress> {
  const status = await client.workflow.getHandle(runWorkflowId(runId)).query(statusQuery);
  if (status.currentStep === undefined) return { status };
  try {
    const stage = await client.workflow
      .getHandle(stepWorkflowId(runId, status.currentStep))
      .query(stageQuery);
    return { status, stage };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return { status };
    throw error;
  }
}

/** Calls `onChange` whenever the step, stage or phase changes, until the run workflow closes; returns its result. */
export async function followRun(
  client: Client,
  runId: string,
  onChange: (progress: Progress) => void,
  pollMs = 1_000,
): Promise<RunStatus> {
  return followWorkflow(
    client.workflow.getHandle<typeof melRunWorkflow>(runWorkflowId(runId)).result(),
    () => currentProgress(client, runId),
    (progress) => `${progress.status.phase}/${progress.status.currentStep}/${progress.stage}`,
    onChange,
    pollMs,
  );
}

/**
 * Polls a workflow's progress every `pollMs` until its `result` settles, calling `onChange` whenever the progress
 * differs (by `key`) from the last one seen; returns the result. A failed poll (no worker answered) is skipped.
 */
export async function followWorkflow<R, P>(
  result: Promise<R>,
  poll: () => Promise<P>,
  key: (progress: P) => string,
  onChange: (progress: P) => void,
  pollMs = 1_000,
): Promise<R> {
  let closed = false;
  const markClosed = () => {
    closed = true;
  };
  result.then(markClosed, markClosed);
  let last: string | undefined;
  while (!closed) {
    const progress = await poll().catch(() => undefined);
    if (progress !== undefined && key(progress) !== last) {
      last = key(progress);
      onChange(progress);
    }
    await Promise.race([sleep(pollMs), result.catch(() => undefined)]);
  }
  return result;
}

// temporal.api.enums.v1.TaskQueueType
const TASK_QUEUE_TYPE = { workflow: 1, activity: 2 } as const;

/** The run family's task queues that no worker has polled recently: work sent there waits until one starts. */
export async function queuesWithoutPollers(client: Client, namespace: string): Promise<string[]> {
  const checks: [string, number][] = [
    [TASK_QUEUES.cpu, TASK_QUEUE_TYPE.workflow],
    [TASK_QUEUES.gpuInference, TASK_QUEUE_TYPE.activity],
    [TASK_QUEUES.gpuTraining, TASK_QUEUE_TYPE.activity],
  ];
  const missing: string[] = [];
  for (const [name, taskQueueType] of checks) {
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name },
      taskQueueType,
    });
    if (!pollers?.length) missing.push(name);
  }
  return missing;
}
