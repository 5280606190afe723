import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { activityFailureOf, EngineRefusalInterceptor } from '../../../activities/engine-failures.js';
import { NON_RETRYABLE } from '../../../common/error-types.js';
import { EngineError } from '../../../engine/errors.js';

const refused = new EngineError('POST /forward_backward answered 422: invalid datum', {
  retryable: false,
  status: 422,
});

describe('engine refusals fail the activity without retries', () => {
  it('turns a refused request into a non-retryable failure with its message', () => {
    const failure = activityFailureOf(refused);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      message: refused.message,
      type: NON_RETRYABLE.engineRefused,
      nonRetryable: true,
    });
  });

  it('leaves every other failure to the retry policy, an outcome-unknown one included', () => {
    const unknown = new EngineError('POST /optim_step: outcome unknown (reset)', {
      retryable: false,
      outcomeUnknown: true,
      status: 400,
    });
    const lost = new EngineError('POST /asample answered 404: Model not found', {
      retryable: false,
      status: 404,
    });
    const other = new Error('MongoDB is restarting');
    for (const error of [unknown, lost, other]) expect(activityFailureOf(error)).toBe(error);
  });

  it('applies to whatever the activity throws (the worker installs it as an inbound interceptor)', async () => {
    const interceptor = new EngineRefusalInterceptor();
    const input = { args: [], headers: {} };
    await expect(interceptor.execute(input, () => Promise.reject(refused))).rejects.toMatchObject({
      type: NON_RETRYABLE.engineRefused,
      nonRetryable: true,
    });
    await expect(interceptor.execute(input, () => Promise.resolve('done'))).resolves.toBe('done');
  });
});
