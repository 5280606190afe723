/** An error the double answers with an HTTP status and `{"detail": …}`, as FastAPI does. */
export class DoubleError extends Error {
  override name = 'DoubleError';
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** A failure while executing a future: retrieve_future answers 400 with this detail (SkyRL's ErrorResponse). */
export class FutureFailure extends Error {
  override name = 'FutureFailure';
}
