import { setTimeout as sleep } from 'node:timers/promises';
import { Timeline, type EngineInterval } from './timeline.js';

// How long the engine takes, as a model: zero by default. Each sampled sequence waits for a free sequence slot
// (sequences beyond `maxConcurrentSequences` queue), then holds it for prefill + its own decode time, as in an
// engine that batches continuously; training and checkpoint calls take fixed or per-token time. Engine-busy time is
// the union of the periods in which anything ran; every call is also recorded in a timeline (at zero latency too,
// with start ≈ end: the benchmark still counts the calls).

export interface LatencyOptions {
  /** Decode speed of one sequence; 0: instant. */
  tokensPerSecondPerSequence: number;
  /** Sequences decoded at once; more wait in a queue. 0: no limit. */
  maxConcurrentSequences: number;
  prefillMsPerPromptToken: number;
  msPerTrainedToken: number;
  optimStepMs: number;
  createMs: number;
  loadMs: number;
  saveMs: number;
}

export const NO_LATENCY: LatencyOptions = {
  tokensPerSecondPerSequence: 0,
  maxConcurrentSequences: 0,
  prefillMsPerPromptToken: 0,
  msPerTrainedToken: 0,
  optimStepMs: 0,
  createMs: 0,
  loadMs: 0,
  saveMs: 0,
};

/** What the timeline route and the in-process handle answer. */
export interface TimelineReport {
  nowMs: number;
  /** The slot limit, for slot utilisation (0: no limit). */
  maxConcurrentSequences: number;
  capacity: number;
  /** Intervals dropped (the oldest first) since the last clear, because the timeline was full. */
  dropped: number;
  intervals: EngineInterval[];
}

/** Each sampled sequence's time on its slot: the request's prefill, then the decode of its own tokens. */
export function sequenceCostsMs(
  options: LatencyOptions,
  promptTokens: number,
  generated: readonly number[],
): number[] {
  const prefill = options.prefillMsPerPromptToken * promptTokens;
  const msPerToken = options.tokensPerSecondPerSequence > 0 ? 1000 / options.tokensPerSecondPerSequence : 0;
  return generated.map((tokens) => prefill + tokens * msPerToken);
}

export class LatencyModel {
  private used = 0;
  private readonly queue: { count: number; grant: () => void }[] = [];
  private active = 0;
  private busySince = 0;
  private busyTotal = 0;
  readonly timeline = new Timeline();

  constructor(readonly options: LatencyOptions = NO_LATENCY) {}

  /** Takes `ms` of engine time for `route`, holding slots for `sequences` decoded sequences meanwhile. */
  async spend(route: string, ms: number, sequences = 0): Promise<void> {
    const slots = this.slotsFor(sequences);
    await this.acquire(slots);
    this.markStart();
    const startMs = Date.now();
    try {
      if (ms > 0) await sleep(ms);
    } finally {
      this.timeline.record({ route, startMs, endMs: Date.now(), sequences, slots });
      this.markEnd();
      this.release(slots);
    }
  }

  /**
   * One sample request: each sequence on a slot of its own, freed as soon as that sequence ends, so a short one
   * does not hold its slot while the longest decodes; done when the last ends. Without a slot limit, one interval
   * for the whole request.
   */
  async spendSequences(route: string, costsMs: readonly number[]): Promise<void> {
    if (this.options.maxConcurrentSequences === 0 || costsMs.length === 0) {
      return this.spend(route, Math.max(0, ...costsMs), costsMs.length);
    }
    await Promise.all(costsMs.map((ms) => this.spend(route, ms, 1)));
  }

  private slotsFor(sequences: number): number {
    const limit = this.options.maxConcurrentSequences;
    return limit > 0 ? Math.min(sequences, limit) : 0;
  }

  private acquire(slots: number): Promise<void> {
    const limit = this.options.maxConcurrentSequences;
    if (slots === 0 || (this.queue.length === 0 && this.used + slots <= limit)) {
      this.used += slots;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push({ count: slots, grant: resolve }));
  }

  private release(slots: number): void {
    this.used -= slots;
    while (this.queue[0] && this.used + this.queue[0].count <= this.options.maxConcurrentSequences) {
      const next = this.queue.shift()!;
      this.used += next.count;
      next.grant();
    }
  }

  private markStart(): void {
    if (this.active++ === 0) this.busySince = performance.now();
  }

  private markEnd(): void {
    if (--this.active === 0) this.busyTotal += performance.now() - this.busySince;
  }

  /** Milliseconds in which at least one call was running (including one running now). */
  busyMs(): number {
    return this.busyTotal + (this.active > 0 ? performance.now() - this.busySince : 0);
  }

  timelineReport(sinceMs?: number): TimelineReport {
    return {
      nowMs: Date.now(),
      maxConcurrentSequences: this.options.maxConcurrentSequences,
      capacity: this.timeline.capacity,
      dropped: this.timeline.dropped,
      intervals: this.timeline.since(sinceMs),
    };
  }

  queued(): number {
    return this.queue.length;
  }
}
