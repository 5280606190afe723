import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import type { SymbolicComparison } from './symbolic.js';
import type { CompareSymbolically, SymbolicOutcome } from './verifier.js';

// Symbolic comparisons of model answers off the event loop: a few worker threads (mel/verifier-worker.ts), one
// comparison each at a time, and a hard deadline. The Compute Engine's parser backtracks exponentially on some
// truncated answers (38 characters took 104 s), so no input limit bounds it: a thread that runs past the deadline
// is terminated, its answer scored 0 ('verifier-timeout'), and a fresh thread started when one is needed.
// Like mel/node.ts, this module uses Node built-ins and stays out of mel/index.ts (workflow code imports the index).

const WORKER_ENTRY = new URL('./verifier-worker-bootstrap.mjs', import.meta.url);

export const VerifierPoolConfigSchema = z.object({
  /** Comparisons that run at once; each holds a thread with its own Compute Engine. */
  threads: z.coerce.number().int().positive().default(2),
  /** A thread that needs more heap (a power tower's digits) dies: its answer is scored 0 ('verifier-error'). */
  maxHeapMb: z.coerce.number().int().positive().default(512),
});
export type VerifierPoolConfig = z.infer<typeof VerifierPoolConfigSchema>;

/** The pool's settings from the environment: MEL_VERIFIER_THREADS, MEL_VERIFIER_MAX_HEAP_MB. */
export function verifierPoolConfigFromEnv(env: NodeJS.ProcessEnv = process.env): VerifierPoolConfig {
  return VerifierPoolConfigSchema.parse({
    threads: env.MEL_VERIFIER_THREADS,
    maxHeapMb: env.MEL_VERIFIER_MAX_HEAP_MB,
  });
}

export class VerifierPoolClosedError extends Error {
  constructor() {
    super('the verifier pool was closed');
    this.name = 'VerifierPoolClosedError';
  }
}

interface Job {
  comparison: SymbolicComparison;
  deadlineMs: number;
  resolve: (outcome: SymbolicOutcome) => void;
  reject: (error: Error) => void;
}

/**
 * One worker thread: started, then given one job at a time until a deadline, a crash or the pool ends it.
 * `onFree` is called after each job and when the thread dies between jobs.
 */
class VerifierThread {
  readonly ready: Promise<void>;
  private readonly worker: Worker;
  private started!: { resolve: () => void; reject: (error: Error) => void };
  private job: Job | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastError: Error | undefined;
  private ended = false;

  constructor(
    config: VerifierPoolConfig,
    private readonly onFree: (thread: VerifierThread) => void,
  ) {
    this.ready = new Promise((resolve, reject) => (this.started = { resolve, reject }));
    this.worker = new Worker(WORKER_ENTRY, { resourceLimits: { maxOldGenerationSizeMb: config.maxHeapMb } });
    this.worker.on('message', (message: 'ready' | SymbolicOutcome) =>
      message === 'ready' ? this.started.resolve() : this.finish(message),
    );
    this.worker.on('error', (error) => (this.lastError = error));
    this.worker.on('exit', (code) => this.onExit(code));
  }

  /** False once the thread timed out, crashed or was closed. */
  get alive(): boolean {
    return !this.ended;
  }

  run(job: Job): void {
    this.job = job;
    this.worker.ref();
    this.worker.postMessage(job.comparison);
    this.timer = setTimeout(() => this.timeOut(), job.deadlineMs);
  }

  /** Lets the process exit while this thread waits for work. */
  idle(): void {
    this.worker.unref();
  }

  async close(): Promise<void> {
    this.ended = true;
    this.job?.reject(new VerifierPoolClosedError());
    this.clear();
    await this.worker.terminate();
  }

  private timeOut(): void {
    this.ended = true;
    void this.worker.terminate();
    this.finish('verifier-timeout');
  }

  private onExit(code: number): void {
    this.started.reject(
      this.lastError ?? new Error(`verifier thread exited with code ${code} while starting`),
    );
    if (this.ended) return;
    this.ended = true;
    // A thread that dies in the middle of a comparison (out of memory) scores that answer 0.
    if (this.job === undefined) this.onFree(this);
    else this.finish('verifier-error');
  }

  private finish(outcome: SymbolicOutcome): void {
    const job = this.job;
    if (job === undefined) return;
    this.clear();
    job.resolve(outcome);
    this.onFree(this);
  }

  private clear(): void {
    clearTimeout(this.timer);
    this.job = undefined;
    this.timer = undefined;
  }
}

/** A bounded pool of verifier threads; `compare` is the `CompareSymbolically` that `verifySolution` takes. */
export class VerifierPool {
  private readonly config: VerifierPoolConfig;
  private readonly queue: Job[] = [];
  private readonly idle: VerifierThread[] = [];
  private readonly threads = new Set<VerifierThread>();
  private starting = 0;
  private closed = false;

  constructor(config: Partial<VerifierPoolConfig> = {}) {
    this.config = VerifierPoolConfigSchema.parse(config);
  }

  readonly compare: CompareSymbolically = (comparison, deadlineMs) =>
    new Promise((resolve, reject) => {
      if (this.closed) throw new VerifierPoolClosedError();
      this.queue.push({ comparison, deadlineMs, resolve, reject });
      this.dispatch();
    });

  /** Terminates every thread; comparisons still queued or running are rejected with VerifierPoolClosedError. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new VerifierPoolClosedError());
    await Promise.all([...this.threads].map((thread) => thread.close()));
    this.threads.clear();
    this.idle.length = 0;
  }

  private dispatch(): void {
    while (this.queue.length > 0 && this.idle.length > 0) this.idle.pop()!.run(this.queue.shift()!);
    while (this.queue.length > this.starting && this.threads.size < this.config.threads) this.start();
  }

  private start(): void {
    const thread = new VerifierThread(this.config, () => this.release(thread));
    this.threads.add(thread);
    this.starting++;
    thread.ready.then(
      () => {
        this.starting--;
        this.release(thread);
      },
      (error: unknown) => {
        this.starting--;
        this.forget(thread);
        this.failQueued(error);
      },
    );
  }

  /** A thread that finished a job or started: back to work, idle, or gone (timed out, crashed, pool closed). */
  private release(thread: VerifierThread): void {
    if (!thread.alive || this.closed) {
      this.forget(thread);
      if (!this.closed) this.dispatch();
      return;
    }
    this.idle.push(thread);
    thread.idle();
    this.dispatch();
  }

  private forget(thread: VerifierThread): void {
    this.threads.delete(thread);
    const idleIndex = this.idle.indexOf(thread);
    if (idleIndex >= 0) this.idle.splice(idleIndex, 1);
  }

  /** A thread that cannot start will not start on a retry either: the comparisons waiting fail loudly. */
  private failQueued(error: unknown): void {
    const failure = new Error(`a verifier thread failed to start: ${String(error)}`, { cause: error });
    for (const job of this.queue.splice(0)) job.reject(failure);
  }
}

let shared: VerifierPool | undefined;

/** The process's pool (settings from the environment), started on first use. */
export function sharedVerifierPool(): VerifierPool {
  shared ??= new VerifierPool(verifierPoolConfigFromEnv());
  return shared;
}

/** Closes the process's pool, if it was started; a later `sharedVerifierPool()` starts a new one. */
export async function closeSharedVerifierPool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  await pool?.close();
}
