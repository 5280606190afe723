import { FutureFailure } from './errors.js';

// SkyRL's futures: every compute call returns a request id at once; retrieve_future holds the caller until the
// result is there (or the hold runs out: 408), then answers 200 with the result or 400 with the failure's detail.
// SkyRL keeps results in its database; the double keeps them in memory, so a result is forgotten `retentionMs` after
// it was first handed out (a re-poll after a lost answer comes within seconds): kept for good, every sample of a long
// benchmark at 512 × 8 × 4k tokens would stay on the double's heap.

export type FutureOutcome = { status: 'done'; value: unknown } | { status: 'failed'; detail: string };

export type WaitResult = FutureOutcome | { status: 'timeout' } | { status: 'unknown' };

interface Entry {
  outcome?: FutureOutcome;
  waiters: Set<(outcome: FutureOutcome) => void>;
  /** Set once the outcome was handed out: when it is forgotten. */
  expiry?: NodeJS.Timeout;
}

export const FUTURE_RETENTION_MS = 120_000;

export class FutureStore {
  private next = 1;
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly retentionMs = FUTURE_RETENTION_MS) {}

  /** Registers `work` under a new request id (a decimal string, as SkyRL's database ids are). */
  create(work: Promise<unknown>): string {
    const id = String(this.next++);
    const entry: Entry = { waiters: new Set() };
    this.entries.set(id, entry);
    work.then(
      (value) => this.settle(entry, { status: 'done', value }),
      (error: unknown) => this.settle(entry, { status: 'failed', detail: failureDetail(error) }),
    );
    return id;
  }

  private settle(entry: Entry, outcome: FutureOutcome): void {
    entry.outcome = outcome;
    for (const waiter of entry.waiters) waiter(outcome);
    entry.waiters.clear();
  }

  wait(id: string, holdMs: number, signal?: AbortSignal): Promise<WaitResult> {
    const entry = this.entries.get(id);
    if (!entry) return Promise.resolve({ status: 'unknown' });
    if (entry.outcome) return Promise.resolve(this.handedOut(id, entry, entry.outcome));
    return new Promise((resolve) => {
      const finish = (result: WaitResult) => {
        clearTimeout(timer);
        entry.waiters.delete(finish);
        signal?.removeEventListener('abort', onAbort);
        resolve(result.status === 'timeout' ? result : this.handedOut(id, entry, result));
      };
      const onAbort = () => finish({ status: 'timeout' });
      const timer = setTimeout(() => finish({ status: 'timeout' }), holdMs);
      entry.waiters.add(finish);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The first time a result is handed out, its forgetting is scheduled. */
  private handedOut<T extends WaitResult>(id: string, entry: Entry, result: T): T {
    entry.expiry ??= setTimeout(() => this.entries.delete(id), this.retentionMs).unref();
    return result;
  }

  counts(): { pending: number; settled: number } {
    let pending = 0;
    for (const entry of this.entries.values()) if (!entry.outcome) pending++;
    return { pending, settled: this.entries.size - pending };
  }
}

function failureDetail(error: unknown): string {
  if (error instanceof FutureFailure) return error.message;
  return error instanceof Error ? error.message : String(error);
}
