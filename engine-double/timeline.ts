// A bounded record of engine work (one interval per latency-model spend), in wall-clock epoch milliseconds so that
// it can be intersected with Temporal history timestamps, and the usage arithmetic the benchmark applies to a
// window of it.

export interface EngineInterval {
  /** The wire route that did the work: asample, forward_backward, optim_step, save_weights, … */
  route: string;
  /** Date.now() when the work got its slots (after any queueing), and when it finished. */
  startMs: number;
  endMs: number;
  /** Sequences requested (num_samples for asample, 0 otherwise). */
  sequences: number;
  /** Decode slots held meanwhile (0 when the engine has no slot limit). */
  slots: number;
}

export const DEFAULT_TIMELINE_CAPACITY = 200_000;

/** The most recent `capacity` intervals in completion order; older ones are dropped and counted. */
export class Timeline {
  private readonly ring: EngineInterval[] = [];
  private next = 0;
  private droppedCount = 0;

  constructor(readonly capacity = DEFAULT_TIMELINE_CAPACITY) {}

  record(interval: EngineInterval): void {
    if (this.ring.length < this.capacity) {
      this.ring.push(interval);
      return;
    }
    this.ring[this.next] = interval;
    this.next = (this.next + 1) % this.capacity;
    this.droppedCount++;
  }

  /** Intervals that ended at or after `sinceMs`, oldest first. */
  since(sinceMs = -Infinity): EngineInterval[] {
    const ordered = [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    return ordered.filter((interval) => interval.endMs >= sinceMs);
  }

  get size(): number {
    return this.ring.length;
  }

  get dropped(): number {
    return this.droppedCount;
  }

  clear(): void {
    this.ring.length = 0;
    this.next = 0;
    this.droppedCount = 0;
  }
}

export interface EngineUsage {
  /** Seconds in which at least one interval ran (their union), within the window. */
  busySeconds: number;
  /** Sum of slots × seconds held, within the window. */
  slotSeconds: number;
  /** slotSeconds / (maxSlots × window seconds); null without a slot limit or with an empty window. */
  slotUtilisation: number | null;
}

function clipped(
  intervals: readonly EngineInterval[],
  fromMs: number,
  toMs: number,
): { start: number; end: number; slots: number }[] {
  return intervals
    .map((interval) => ({
      start: Math.max(interval.startMs, fromMs),
      end: Math.min(interval.endMs, toMs),
      slots: interval.slots,
    }))
    .filter((part) => part.end > part.start);
}

function unionMs(parts: readonly { start: number; end: number }[]): number {
  const sorted = [...parts].sort((a, b) => a.start - b.start);
  let total = 0;
  let coveredUntil = -Infinity;
  for (const { start, end } of sorted) {
    if (end <= coveredUntil) continue;
    total += end - Math.max(start, coveredUntil);
    coveredUntil = end;
  }
  return total;
}

/** Engine usage in the window [fromMs, toMs]: busy time, slot-seconds and slot utilisation. */
export function engineUsage(
  intervals: readonly EngineInterval[],
  fromMs: number,
  toMs: number,
  maxSlots: number,
): EngineUsage {
  const parts = clipped(intervals, fromMs, toMs);
  const slotSeconds = parts.reduce((sum, part) => sum + part.slots * (part.end - part.start), 0) / 1000;
  const windowSeconds = (toMs - fromMs) / 1000;
  return {
    busySeconds: unionMs(parts) / 1000,
    slotSeconds,
    slotUtilisation: maxSlots > 0 && windowSeconds > 0 ? slotSeconds / (maxSlots * windowSeconds) : null,
  };
}
