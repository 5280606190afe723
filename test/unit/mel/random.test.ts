import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sampleIndices, seededRandom, shuffle } from '../../../mel/random.js';

// The Fisher–Yates that the problem schedule and the warm start each had before they shared `shuffle`.
function formerShuffle<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

describe('shuffle', () => {
  it('draws exactly as the former copies did', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(fc.integer(), { maxLength: 80 }), (seed, items) => {
        expect(shuffle(items, seededRandom(seed))).toEqual(formerShuffle(items, seededRandom(seed)));
      }),
    );
  });

  it('permutes without touching its input', () => {
    const items = [1, 2, 3, 4, 5];
    expect([...shuffle(items, seededRandom(1))].sort()).toEqual(items);
    expect(items).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('sampleIndices', () => {
  it('keeps its pinned draws (the pairs every MEL run samples)', () => {
    expect(sampleIndices(seededRandom(5), 10, 4)).toEqual([1, 3, 6, 7]);
    expect(sampleIndices(seededRandom(9), 6, 6)).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
