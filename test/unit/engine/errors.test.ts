import { describe, expect, it } from 'vitest';
import { EngineError, isModelGone, isRequestRejected } from '../../../engine/errors.js';

const failure = (status: number | undefined, message = 'failed', retryable = false) =>
  new EngineError(message, { retryable, ...(status === undefined ? {} : { status }) });

describe('what an engine failure concerns', () => {
  it('a 400 about the request itself is that request being rejected', () => {
    const overflow =
      'Sampling failed for sample 0: ClientResponseError: 400, message="This model\'s maximum context length…';
    expect(isRequestRejected(failure(400, overflow))).toBe(true);
  });

  it('a model that is gone, an outage or a malformed body is not any one request', () => {
    expect(isModelGone(failure(400, 'Model model_1 not loaded'))).toBe(true);
    expect(isRequestRejected(failure(400, 'Model model_1 not loaded'))).toBe(false);
    for (const status of [404, 408, 422, 429, 500, 502, 503, 504]) {
      expect(isRequestRejected(failure(status, 'x', status >= 500)), String(status)).toBe(false);
    }
    expect(isRequestRejected(failure(undefined, 'POST /asample failed: fetch failed', true))).toBe(false);
    expect(isRequestRejected(new Error('400'))).toBe(false);
  });
});
