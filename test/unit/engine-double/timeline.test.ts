import { describe, expect, it } from 'vitest';
import { engineUsage, Timeline, type EngineInterval } from '../../../engine-double/timeline.js';

function interval(startMs: number, endMs: number, slots = 0, route = 'asample'): EngineInterval {
  return { route, startMs, endMs, sequences: slots, slots };
}

describe('engineUsage', () => {
  it('counts overlapping intervals once in busy time and fully in slot-seconds', () => {
    const usage = engineUsage(
      [interval(0, 2000, 4), interval(1000, 3000, 2), interval(5000, 6000, 4)],
      0,
      10_000,
      8,
    );
    expect(usage.busySeconds).toBe(4);
    expect(usage.slotSeconds).toBe(4 * 2 + 2 * 2 + 4 * 1);
    expect(usage.slotUtilisation).toBeCloseTo(16 / (8 * 10));
  });

  it('clips intervals to the window, and ignores those outside it', () => {
    const usage = engineUsage(
      [interval(0, 4000, 2), interval(9000, 12_000, 2), interval(20_000, 21_000, 2)],
      2000,
      10_000,
      4,
    );
    expect(usage.busySeconds).toBe(2 + 1);
    expect(usage.slotSeconds).toBe(2 * 2 + 2 * 1);
    expect(usage.slotUtilisation).toBeCloseTo(6 / (4 * 8));
  });

  it('handles a nested interval and zero-length ones', () => {
    const usage = engineUsage(
      [interval(0, 5000, 1), interval(1000, 2000, 1), interval(3000, 3000, 1)],
      0,
      5000,
      2,
    );
    expect(usage.busySeconds).toBe(5);
    expect(usage.slotSeconds).toBe(6);
  });

  it('is zero with no intervals, and has no utilisation without a slot limit or with an empty window', () => {
    expect(engineUsage([], 0, 1000, 4)).toEqual({ busySeconds: 0, slotSeconds: 0, slotUtilisation: 0 });
    expect(engineUsage([interval(0, 1000, 0)], 0, 1000, 0).slotUtilisation).toBeNull();
    expect(engineUsage([interval(0, 1000, 1)], 500, 500, 4)).toEqual({
      busySeconds: 0,
      slotSeconds: 0,
      slotUtilisation: null,
    });
  });
});

describe('Timeline', () => {
  it('keeps the most recent intervals in order, counts the dropped ones, and filters by end time', () => {
    const timeline = new Timeline(3);
    for (const end of [10, 20, 30, 40, 50]) timeline.record(interval(end - 5, end));
    expect(timeline.since().map((i) => i.endMs)).toEqual([30, 40, 50]);
    expect(timeline.dropped).toBe(2);
    expect(timeline.since(40).map((i) => i.endMs)).toEqual([40, 50]);
    timeline.clear();
    expect([timeline.size, timeline.dropped, timeline.since()]).toEqual([0, 0, []]);
  });
});
