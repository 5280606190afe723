import { describe, expect, it } from 'vitest';
import { roundDir } from '../../../tiny-model/build.js';
import {
  DEFAULT_WARM_START,
  WARM_START_ROUNDS,
  shuffledBatches,
  targetsMet,
} from '../../../tiny-model/warm-start.js';

describe('warm-start rounds', () => {
  it('chains the rounds: each writes its own folder under the build folder', () => {
    const dirs = WARM_START_ROUNDS.map((round) => roundDir('/tmp/build', round));
    expect(dirs).toEqual(['/tmp/build/solve', '/tmp/build/reflect']);
  });

  it('asks only the last round for parseable reflections', () => {
    const solving = { step: 250, passRate: 0.3, mixedGroupFraction: 0.6, parseRate: 0 };
    const targets = WARM_START_ROUNDS.map((round) => ({ ...DEFAULT_WARM_START, ...round.options }).targets);
    expect(targets.map((t) => targetsMet(solving, t))).toEqual([true, false]);
    expect(targetsMet({ ...solving, parseRate: 0.9 }, targets[1]!)).toBe(true);
  });
});

describe('warm-start batches', () => {
  // Pinned with the warm start's own shuffle before it became mel/random.ts's `shuffle`: the batches, and so the
  // loss trace and the committed model, must not change.
  it('cuts endless seeded epochs into fixed-size batches, in a pinned order', () => {
    const small = shuffledBatches(
      Array.from({ length: 10 }, (_, i) => i),
      4,
      0,
    );
    expect([1, 2, 3, 4].map(() => small.next().value)).toEqual([
      [3, 8, 6, 4],
      [5, 9, 7, 1],
      [0, 2, 7, 1],
      [4, 9, 3, 8],
    ]);
    const curriculumSized = shuffledBatches(
      Array.from({ length: 60 }, (_, i) => i),
      8,
      2,
    );
    const eighth = Array.from({ length: 8 }, () => curriculumSized.next().value).at(-1);
    expect(eighth).toEqual([30, 16, 19, 44, 53, 36, 48, 4]);
  });
});
