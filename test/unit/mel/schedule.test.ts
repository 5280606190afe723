import { describe, expect, it } from 'vitest';
import type { Problem } from '../../../mel/index.js';
import { pairSamplingSeed, problemsForStep, samplingSeed } from '../../../mel/schedule.js';

const problems: Problem[] = Array.from({ length: 10 }, (_, i) => ({
  id: `p${i}`,
  question: `q${i}`,
  answer: `${i}`,
}));

describe('problem schedule', () => {
  it('gives a replayed step exactly the same prompts', () => {
    expect(problemsForStep(problems, 3, 2, 4)).toEqual(problemsForStep(problems, 3, 2, 4));
  });

  it('covers every problem once per epoch before repeating any', () => {
    const epoch = [0, 1, 2, 3, 4].flatMap((step) => problemsForStep(problems, 3, step, 2).map((p) => p.id));
    expect(new Set(epoch).size).toBe(10);
  });

  it('wraps into a new, differently shuffled epoch', () => {
    const firstEpoch = [0, 1].flatMap((step) => problemsForStep(problems, 3, step, 5).map((p) => p.id));
    const secondEpoch = [2, 3].flatMap((step) => problemsForStep(problems, 3, step, 5).map((p) => p.id));
    expect(new Set(secondEpoch).size).toBe(10);
    expect(secondEpoch).not.toEqual(firstEpoch);
  });

  it('depends on the run seed', () => {
    expect(problemsForStep(problems, 1, 0, 10)).not.toEqual(problemsForStep(problems, 2, 0, 10));
  });

  it('keeps its order: pinned values (a change here reorders every run and every replay)', () => {
    const ids = (seed: number, step: number, size: number) =>
      problemsForStep(problems, seed, step, size).map((p) => p.id);
    expect([0, 1, 2, 3].map((step) => ids(3, step, 4))).toEqual([
      ['p6', 'p8', 'p5', 'p3'],
      ['p1', 'p4', 'p7', 'p9'],
      ['p0', 'p2', 'p2', 'p8'],
      ['p0', 'p6', 'p1', 'p3'],
    ]);
    expect(ids(11, 0, 10)).toEqual(['p5', 'p6', 'p2', 'p1', 'p4', 'p9', 'p7', 'p8', 'p0', 'p3']);
  });

  it('rejects an empty data set', () => {
    expect(() => problemsForStep([], 0, 0, 1)).toThrow(/empty/);
  });
});

describe('sampling seeds', () => {
  it('are stable, distinct per item and stage, and fit a signed 32-bit integer', () => {
    const seeds = ['rollout', 'summarize', 'validate'].flatMap((stage) =>
      [0, 1, 2].map((item) => samplingSeed(7, 1, stage, String(item))),
    );
    expect(new Set(seeds).size).toBe(seeds.length);
    for (const seed of seeds) {
      expect(seed).toBeGreaterThanOrEqual(0);
      expect(seed).toBeLessThan(2 ** 31);
    }
    expect(samplingSeed(7, 1, 'rollout', '0')).toBe(seeds[0]);
  });
});

describe('pair sampling seed', () => {
  it('is the run seed by default, and another seed for each mel.pairs.seed', () => {
    expect(pairSamplingSeed(7, 0)).toBe(7);
    const seeds = [1, 2, 3].map((pairsSeed) => pairSamplingSeed(7, pairsSeed));
    expect(new Set([7, ...seeds]).size).toBe(4);
    expect(pairSamplingSeed(8, 1)).not.toBe(pairSamplingSeed(7, 1));
  });
});
