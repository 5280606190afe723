import { describe, expect, it } from 'vitest';
import { EngineError, isModelGone, isRefusedRequest, isRequestRejected } from '../../../engine/errors.js';

const answered = (status: number, detail: string, extra: { outcomeUnknown?: boolean } = {}) =>
  new EngineError(`POST /route answered ${status}: ${detail}`, { retryable: false, status, ...extra });

describe('isRefusedRequest: what no retry of the activity can fix', () => {
  it('is a 4xx that refuses the request itself', () => {
    for (const error of [
      answered(400, 'Exactly one of base_model or model_path must be provided'),
      answered(401, 'invalid API key'),
      answered(404, 'Checkpoint not found: model_1/run-step-3'),
      answered(404, 'Not Found'),
      answered(409, 'seq_id 3 was already used'),
      answered(422, 'request body is not valid JSON'),
    ]) {
      expect(isRefusedRequest(error), error.message).toBe(true);
    }
  });

  it('is not a timeout, rate limit or server failure, nor a model, sampler or future the engine lost', () => {
    for (const error of [
      answered(408, 'timeout'),
      answered(429, 'slow down'),
      answered(503, 'unavailable'),
      answered(404, 'Model not found'),
      answered(404, 'Sampling session not found'),
      answered(404, 'Future not found'),
      answered(400, 'Model model_c33ecad0 not loaded'),
      new EngineError('POST /route failed: ECONNRESET', { retryable: true }),
      new Error('not an engine error'),
    ]) {
      expect(isRefusedRequest(error), String(error)).toBe(false);
    }
  });

  it('is never a state-changing call whose outcome is unknown: the next attempt starts in a fresh model', () => {
    expect(isRefusedRequest(answered(400, 'bad request', { outcomeUnknown: true }))).toBe(false);
  });
});

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
