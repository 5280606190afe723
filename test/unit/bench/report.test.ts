import { describe, expect, it } from 'vitest';
import { longRunGrowth } from '../../../bench/report.js';

describe('the growth of overhead over a long run', () => {
  it('compares the median of the last 5 steps with that of steps 3–7', () => {
    const overheadByStep = Array.from({ length: 100 }, (_, step) => 10 + step / 10);
    expect(longRunGrowth({ overheadByStep })).toEqual({
      early: 10.5,
      late: 19.7,
      earlySteps: '3–7',
      lateSteps: '95–99',
    });
  });

  it('is not judged on a run too short to have both ends', () => {
    expect(longRunGrowth({ overheadByStep: Array<number>(19).fill(1) })).toBeNull();
    expect(longRunGrowth({ overheadByStep: Array<number>(20).fill(1) })).toMatchObject({
      lateSteps: '15–19',
    });
  });
});
