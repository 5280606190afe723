import { ApplicationFailure } from '@temporalio/workflow';
import { NON_RETRYABLE } from '../common/error-types.js';
import { itemChunks, type ItemRange } from '../mel/fan-out.js';

/**
 * `itemChunks` in workflow code, where a split it refuses (a chunk size that is not a positive integer, in an input
 * that bypassed the configuration's schema) fails the workflow for good: thrown as a plain error inside workflow
 * code, it would fail the workflow task and retry it forever.
 */
export function workflowChunks(total: number, perChunk: number): ItemRange[] {
  try {
    return itemChunks(total, perChunk);
  } catch (error) {
    throw ApplicationFailure.nonRetryable(
      `cannot fan out the stage: ${(error as Error).message}`,
      NON_RETRYABLE.invalidInput,
    );
  }
}
