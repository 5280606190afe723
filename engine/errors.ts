/**
 * The one error type for engine failures. `retryable` says whether the client may send the same call again
 * (connection errors, timeouts, 408/429/5xx, garbled answers); the workers turn a refused request
 * (`isRefusedRequest`) into a non-retryable Temporal failure. Messages never contain the API key.
 */
export class EngineError extends Error {
  override name = 'EngineError';
  readonly retryable: boolean;
  readonly status: number | undefined;
  /**
   * A state-changing call whose answer was lost: the client must not re-send it (`retryable` is false), but the
   * activity may run again, since its next attempt starts afresh in a fresh model.
   */
  readonly outcomeUnknown: boolean;

  constructor(
    message: string,
    options: { retryable: boolean; status?: number; cause?: unknown; outcomeUnknown?: boolean },
  ) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable;
    this.status = options.status;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
  }
}

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Timeouts, rate limits and server-side failures; every other 4xx means the request itself is wrong. */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/** What an engine forgets when it restarts (SkyRL: "Model not found", "Model <id> not loaded", "Future not found"). */
const LOST_ON_RESTART = /\b(?:model|sampler|session|future)\b[\w\s-]*\bnot (?:found|loaded)\b/i;

/**
 * The engine refused the request itself, so no retry can succeed: a 4xx that is neither a timeout or rate limit
 * nor about a model, sampler or future the engine lost (a fresh attempt recreates or restores those), and not a
 * call whose outcome is unknown (a fresh attempt starts over in a fresh model).
 */
export function isRefusedRequest(error: unknown): error is EngineError {
  if (!(error instanceof EngineError) || error.outcomeUnknown || error.status === undefined) return false;
  const { status, message } = error;
  if (status < 400 || status >= 500 || isRetryableStatus(status)) return false;
  return !((status === 400 || status === 404) && LOST_ON_RESTART.test(message));
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    return error.cause instanceof Error ? `${error.message} (${error.cause.message})` : error.message;
  }
  return String(error);
}

/** The engine no longer knows the client's session (restarted without it, or expired it): SkyRL answers 404. */
export function isSessionGone(error: unknown): error is EngineError {
  return error instanceof EngineError && error.status === 404 && /\bsession not found\b/i.test(error.message);
}

/** The engine no longer holds the model: unknown (404) or known but not loaded (SkyRL answers 400). */
export function isModelGone(error: unknown): error is EngineError {
  if (!(error instanceof EngineError)) return false;
  return error.status === 404 || (error.status === 400 && /not (loaded|found)/i.test(error.message));
}

/**
 * The engine refused this one request for what it asks (a prompt longer than its context, …): a 400 that is not
 * about the model. Connection errors, timeouts, 429 and 5xx are the engine's state, and 404 (an unknown model) and
 * 422 (a body the client built wrong) concern every request alike: none of those is the request's own fault.
 */
export function isRequestRejected(error: unknown): error is EngineError {
  return error instanceof EngineError && error.status === 400 && !isModelGone(error);
}
