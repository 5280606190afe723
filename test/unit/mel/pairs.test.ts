import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allContrastivePairs,
  PairConfigSchema,
  selectContrastivePairs,
  selectSamplePairs,
} from '../../../mel/index.js';

const group = fc.array(fc.constantFrom(0, 1), { minLength: 1, maxLength: 16 });
const key = (p: { positiveIndex: number; negativeIndex: number }) => `${p.positiveIndex}-${p.negativeIndex}`;

describe('contrastive pairs (paper §3.2)', () => {
  it('lists every (correct, incorrect) pair of a hand-made group', () => {
    expect(allContrastivePairs([0, 1, 0, 1])).toEqual([
      { positiveIndex: 1, negativeIndex: 0 },
      { positiveIndex: 1, negativeIndex: 2 },
      { positiveIndex: 3, negativeIndex: 0 },
      { positiveIndex: 3, negativeIndex: 2 },
    ]);
  });

  it('property: a group with k correct of G has k·(G−k) distinct, well-labelled pairs', () => {
    fc.assert(
      fc.property(group, (rewards) => {
        const k = rewards.filter((r) => r > 0).length;
        const pairs = selectContrastivePairs(rewards, 'g');
        expect(pairs.length).toBe(k * (rewards.length - k));
        expect(new Set(pairs.map(key)).size).toBe(pairs.length);
        for (const p of pairs) {
          expect(rewards[p.positiveIndex]).toBe(1);
          expect(rewards[p.negativeIndex]).toBe(0);
        }
      }),
    );
  });

  it('gives no pairs for all-correct or all-wrong groups', () => {
    expect(selectContrastivePairs([1, 1, 1], 'g')).toEqual([]);
    expect(selectContrastivePairs([0, 0, 0], 'g')).toEqual([]);
  });

  it('property: a cap gives min(cap, k·(G−k)) pairs drawn from the full set, deterministic per seed and group', () => {
    fc.assert(
      fc.property(group, fc.integer({ min: 1, max: 20 }), fc.integer(), (rewards, cap, seed) => {
        const config = PairConfigSchema.parse({ maxPairsPerGroup: cap, seed });
        const all = new Set(allContrastivePairs(rewards).map(key));
        const pairs = selectContrastivePairs(rewards, 'problem-7', config);
        const expectedCount =
          rewards.some((r) => r > 0) && rewards.some((r) => r === 0) ? Math.min(cap, all.size) : 0;
        expect(pairs.length).toBe(expectedCount);
        expect(new Set(pairs.map(key)).size).toBe(pairs.length);
        pairs.forEach((p) => expect(all.has(key(p))).toBe(true));
        expect(selectContrastivePairs(rewards, 'problem-7', config)).toEqual(pairs);
      }),
    );
  });

  it('samples differently for different seeds or groups (4 correct of 8: 16 pairs, cap 4)', () => {
    const rewards = [1, 0, 1, 0, 1, 0, 1, 0];
    const draw = (seed: number, group: string) =>
      selectContrastivePairs(rewards, group, PairConfigSchema.parse({ maxPairsPerGroup: 4, seed }))
        .map(key)
        .join(',');
    const seeds = new Set([0, 1, 2, 3, 4, 5].map((seed) => draw(seed, 'a')));
    const groups = new Set(['a', 'b', 'c', 'd', 'e', 'f'].map((group) => draw(0, group)));
    expect(seeds.size).toBeGreaterThan(1);
    expect(groups.size).toBeGreaterThan(1);
  });

  it('pairs a group that lost samples by sample index, as a full group with the same rewards would be paired', () => {
    // s1 was excluded: positions 0, 1, 2 are samples 0, 2, 3.
    const samples = [
      { sampleIndex: 0, reward: 1 },
      { sampleIndex: 2, reward: 0 },
      { sampleIndex: 3, reward: 0 },
    ];
    expect(selectSamplePairs(samples, 'g')).toEqual([
      { positiveIndex: 0, negativeIndex: 2 },
      { positiveIndex: 0, negativeIndex: 3 },
    ]);
    const full = samples.map((s, position) => ({ sampleIndex: position, reward: s.reward }));
    const config = PairConfigSchema.parse({ maxPairsPerGroup: 1, seed: 5 });
    expect(selectSamplePairs(samples, 'g', config).length).toBe(1);
    expect(selectSamplePairs(full, 'g', config)).toEqual(selectContrastivePairs([1, 0, 0], 'g', config));
  });
});
