/**
 * Engine refusals fail fast: an activity whose engine call was refused as wrong (a 4xx that no retry can fix)
 * fails without Temporal's retries. Installed on every worker as an activity interceptor.
 */
import { ApplicationFailure } from '@temporalio/common';
import type {
  ActivityExecuteInput,
  ActivityInboundCallsInterceptor,
  ActivityInterceptorsFactory,
  Next,
} from '@temporalio/worker';
import { NON_RETRYABLE } from '../common/error-types.js';
import { isRefusedRequest } from '../engine/errors.js';

/** The failure an activity reports for `error`: a refused engine request as non-retryable, anything else as is. */
export function activityFailureOf(error: unknown): unknown {
  if (!isRefusedRequest(error)) return error;
  return ApplicationFailure.create({
    message: error.message,
    type: NON_RETRYABLE.engineRefused,
    nonRetryable: true,
    details: [{ status: error.status }],
  });
}

export class EngineRefusalInterceptor implements ActivityInboundCallsInterceptor {
  async execute(
    input: ActivityExecuteInput,
    next: Next<ActivityInboundCallsInterceptor, 'execute'>,
  ): Promise<unknown> {
    try {
      return await next(input);
    } catch (error) {
      throw activityFailureOf(error);
    }
  }
}

export const engineRefusalInterceptors: ActivityInterceptorsFactory = () => ({
  inbound: new EngineRefusalInterceptor(),
});
