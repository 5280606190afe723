import { describe, expect, it } from 'vitest';
import { EngineError, isRefusedRequest } from '../../../engine/errors.js';

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
