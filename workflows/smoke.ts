import { proxyActivities } from '@temporalio/workflow';
import { NON_RETRYABLE_ERROR_TYPES } from '../common/error-types.js';
import type { SmokeActivities } from '../activities/smoke.js';
import { TASK_QUEUES } from '../temporal/contracts/common.js';
import type { SmokeInput, SmokeResult } from '../temporal/contracts/smoke.js';

const { smokeProbe } = proxyActivities<SmokeActivities>({
  taskQueue: TASK_QUEUES.gpuInference,
  startToCloseTimeout: '10 minutes',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
});

/** The smallest workflow that touches every part of the stack: Temporal, a worker, MongoDB and the engine. */
export async function smokeWorkflow(input: SmokeInput): Promise<SmokeResult> {
  return smokeProbe(input);
}
