import { describe, expect, it } from 'vitest';
import { LivenessTracker } from '../../../common/liveness.js';

function trackerWithClock(stallAfterMs: number) {
  const clock = { nowMs: 1_000_000 };
  const tracker = new LivenessTracker(stallAfterMs, () => clock.nowMs);
  const advance = (ms: number) => (clock.nowMs += ms);
  return { tracker, advance };
}

describe('liveness tracker', () => {
  it('is live from its start until the bound passes without progress', () => {
    const { tracker, advance } = trackerWithClock(10_000);
    expect(tracker.isLive()).toBe(true);
    advance(9_999);
    expect(tracker.isLive()).toBe(true);
    advance(1);
    expect(tracker.isLive()).toBe(false);
  });

  it('counts the bound from the last progress, however long the work has run', () => {
    const { tracker, advance } = trackerWithClock(10_000);
    for (let i = 0; i < 10; i++) {
      advance(9_000);
      tracker.progressed(`engine call ${i}`);
    }
    advance(9_000);
    expect(tracker.isLive()).toBe(true);
    expect(tracker.report()).toEqual({ progress: 10, last: 'engine call 9', idleS: 9 });
    advance(1_000);
    expect(tracker.isLive()).toBe(false);
  });

  it('says which progress came last and how long ago when it stalls', () => {
    const { tracker, advance } = trackerWithClock(5_000);
    tracker.progressed('store find');
    advance(7_000);
    expect(tracker.stallMessage()).toBe(
      'no engine or MongoDB call answered and no item finished for 7 s (bound 5 s); the last progress was "store find"',
    );
  });
});
