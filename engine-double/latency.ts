import { setTimeout as sleep } from 'node:timers/promises';
import { Timeline, type EngineInterval } from './timeline.js';

// How long the engine takes, as a model: zero by default. Samples wait for free sequence slots (requests beyond
// `maxConcurrentSequences` queue), then take prefill + decode time; training and checkpoint calls take fixed or
// per-token time. Engine-busy time is the union of the periods in which anything ran; every call is also recorded
// in a timeline (at zero latency too, with start ≈ end: the benchmark still counts the calls).

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

export function sampleCostMs(
  options: LatencyOptions,
  promptTokens: number,
  generated: readonly number[],
): number {
  const longest = Math.max(0, ...generated);
  const decode =
    options.tokensPerSecondPerSequence > 0 ? (longest / options.tokensPerSecondPerSequence) * 1000 : 0;
  return options.prefillMsPerPromptToken * promptTokens * (generated.length > 0 ? 1 : 0) + decode;
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
