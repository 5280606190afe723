/**
 * The one error type for engine failures. `retryable` says whether the same call may succeed later (connection
 * errors, timeouts, 408/429/5xx, garbled answers); activities turn non-retryable ones into non-retryable Temporal
 * failures. Messages never contain the API key.
 */
export class EngineError extends Error {
  override name = 'EngineError';
  readonly retryable: boolean;
  readonly status: number | undefined;

  constructor(message: string, options: { retryable: boolean; status?: number; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable;
    this.status = options.status;
  }
}

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Timeouts, rate limits and server-side failures; every other 4xx means the request itself is wrong. */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    return error.cause instanceof Error ? `${error.message} (${error.cause.message})` : error.message;
  }
  return String(error);
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
