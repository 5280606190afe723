import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { CpuActivities, GpuInferenceActivities, GpuTrainingActivities } from '../activities/index.js';
import { NON_RETRYABLE_ERROR_TYPES } from '../common/error-types.js';
import { TASK_QUEUES } from '../temporal/contracts/common.js';

const retry: ActivityOptions['retry'] = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts: 5,
  nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
};

/** Short bookkeeping on MongoDB: a lost attempt is retried after two minutes at most. */
export const cpu = proxyActivities<CpuActivities>({
  taskQueue: TASK_QUEUES.cpu,
  startToCloseTimeout: '2m',
  retry,
});

/** Engine calls heartbeat every few seconds; a worker that dies is noticed within the heartbeat timeout. */
export const gpuInference = proxyActivities<GpuInferenceActivities>({
  taskQueue: TASK_QUEUES.gpuInference,
  startToCloseTimeout: '2h',
  heartbeatTimeout: '30s',
  retry,
});

export const gpuTraining = proxyActivities<GpuTrainingActivities>({
  taskQueue: TASK_QUEUES.gpuTraining,
  startToCloseTimeout: '2h',
  heartbeatTimeout: '30s',
  retry,
});
