/**
 * Tells slow work from hung work by its progress: the last engine or store call that was answered, or the last
 * item finished. Work is live while that progress is younger than the bound; a clock is passed in, so the bound is
 * tested without waiting.
 */
export interface LivenessReport {
  /** Calls answered and items finished so far. */
  progress: number;
  /** The latest of them, e.g. "engine POST /api/v1/asample 200". */
  last: string;
  /** Seconds since then. */
  idleS: number;
}

export class LivenessTracker {
  private progress = 0;
  private last: { what: string; atMs: number };

  constructor(
    readonly stallAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.last = { what: 'started', atMs: now() };
  }

  progressed(what: string): void {
    this.progress++;
    this.last = { what, atMs: this.now() };
  }

  idleMs(): number {
    return this.now() - this.last.atMs;
  }

  isLive(): boolean {
    return this.idleMs() < this.stallAfterMs;
  }

  report(): LivenessReport {
    return { progress: this.progress, last: this.last.what, idleS: Math.round(this.idleMs() / 1000) };
  }

  /** Why the work counts as hung. */
  stallMessage(): string {
    const { last, idleS } = this.report();
    return (
      `no engine or MongoDB call answered and no item finished for ${idleS} s (bound ` +
      `${this.stallAfterMs / 1000} s); the last progress was "${last}"`
    );
  }
}
