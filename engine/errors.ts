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
