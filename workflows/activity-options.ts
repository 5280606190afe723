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

// Every attempt heartbeats while it makes progress (activities/attempt.ts): the heartbeat timeout notices a worker
// that died or hangs, and an attempt whose engine and MongoDB calls stop answering fails itself within the
// worker's stall bound (MEL_STALL_TIMEOUT_S). The start-to-close timeouts are only a backstop.

/**
 * Bookkeeping and CPU work on MongoDB. One hour to close: at benchmark scale on FerretDB (SQLite), `verify` and
 * `internalize` take minutes while progressing steadily; a shorter limit killed them on every attempt.
 */
export const cpu = proxyActivities<CpuActivities>({
  taskQueue: TASK_QUEUES.cpu,
  startToCloseTimeout: '1h',
  heartbeatTimeout: '30s',
  retry,
});

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
