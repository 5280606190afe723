import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EvalSettingsSchema,
  evalMetrics,
  evalSampleSeed,
  passAtK,
  problemOutcomes,
  type ScoredAnswer,
} from '../../../mel/index.js';

/** C(n, k) exactly, for the reference formula. */
function binomial(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let result = 1n;
  for (let i = 1; i <= k; i++) result = (result * BigInt(n - k + i)) / BigInt(i);
  return result;
}

/** 1 − C(n−c, k) / C(n, k), with exact integers up to the final division. */
function passAtKReference(n: number, c: number, k: number): number {
  const all = binomial(n, k);
  return 1 - Number(binomial(n - c, k)) / Number(all);
}

const nck = fc
  .integer({ min: 1, max: 40 })
  .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n }), fc.integer({ min: 1, max: n })));

describe('passAtK (unbiased estimator)', () => {
  it('is 1 − C(n−c, k) / C(n, k)', () => {
    fc.assert(
      fc.property(nck, ([n, c, k]) => {
        expect(passAtK(n, c, k)).toBeCloseTo(passAtKReference(n, c, k), 12);
      }),
    );
    expect(passAtK(10, 3, 2)).toBeCloseTo(1 - 21 / 45, 15);
    expect(passAtK(5, 2, 1)).toBeCloseTo(0.4, 15);
  });

  it('with n = k is 1 when any sample is correct, else 0', () => {
    for (let c = 0; c <= 4; c++) expect(passAtK(4, c, 4)).toBe(c > 0 ? 1 : 0);
  });

  it('with k = 1 is the fraction correct, and never falls below it', () => {
    fc.assert(
      fc.property(nck, ([n, c, k]) => {
        expect(passAtK(n, c, 1)).toBeCloseTo(c / n, 12);
        expect(passAtK(n, c, k)).toBeGreaterThanOrEqual(c / n - 1e-12);
      }),
    );
  });

  it('grows with the number correct and with k', () => {
    fc.assert(
      fc.property(nck, ([n, c, k]) => {
        if (c < n) expect(passAtK(n, c + 1, k)).toBeGreaterThanOrEqual(passAtK(n, c, k));
        if (k < n) expect(passAtK(n, c, k + 1)).toBeGreaterThanOrEqual(passAtK(n, c, k));
      }),
    );
  });

  it('stays finite for large n', () => {
    expect(passAtK(2000, 1, 1000)).toBeCloseTo(0.5, 10);
  });

  it('refuses k outside 1..n and c outside 0..n', () => {
    expect(() => passAtK(3, 1, 4)).toThrow(RangeError);
    expect(() => passAtK(3, 1, 0)).toThrow(RangeError);
    expect(() => passAtK(3, 4, 1)).toThrow(RangeError);
    expect(() => passAtK(3, 1.5, 1)).toThrow(RangeError);
  });
});

describe('evalMetrics', () => {
  it('Pass@1 from the greedy answers, Avg@k over all samples, Pass@k per problem', () => {
    const metrics = evalMetrics(
      [
        { greedyCorrect: true, samples: 4, correctSamples: 2 },
        { greedyCorrect: false, samples: 4, correctSamples: 0 },
        { greedyCorrect: false, samples: 4, correctSamples: 1 },
        { greedyCorrect: true, samples: 4, correctSamples: 4 },
      ],
      4,
    );
    expect(metrics).toEqual({
      k: 4,
      problems: 4,
      greedySamples: 4,
      sampledSamples: 16,
      pass1: 0.5,
      avgK: 7 / 16,
      passK: 0.75,
    });
  });

  it('Pass@k is never below Avg@k when every problem has the same number of samples', () => {
    const outcome = fc
      .tuple(fc.boolean(), fc.integer({ min: 0, max: 6 }))
      .map(([greedyCorrect, correctSamples]) => ({ greedyCorrect, samples: 6, correctSamples }));
    fc.assert(
      fc.property(
        fc.array(outcome, { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 6 }),
        (o, k) => {
          const metrics = evalMetrics(o, k);
          expect(metrics.passK).toBeGreaterThanOrEqual(metrics.avgK - 1e-12);
          expect(metrics.pass1).toBeGreaterThanOrEqual(0);
          expect(metrics.pass1).toBeLessThanOrEqual(1);
        },
      ),
    );
  });

  it('refuses an empty set and a problem with fewer than k samples', () => {
    expect(() => evalMetrics([], 4)).toThrow(/no problems/);
    expect(() => evalMetrics([{ greedyCorrect: true, samples: 2, correctSamples: 1 }], 4)).toThrow(
      RangeError,
    );
  });
});

describe('problemOutcomes', () => {
  const answers = (problems: number, k: number, correct: (p: number, s: number | 'g') => boolean) =>
    Array.from({ length: problems }, (_, p): ScoredAnswer[] => [
      { problemIndex: p, kind: 'greedy', correct: correct(p, 'g') },
      ...Array.from({ length: k }, (_, s): ScoredAnswer => ({
        problemIndex: p,
        kind: 'sampled',
        correct: correct(p, s),
      })),
    ]).flat();

  it('counts the greedy and the sampled answers of each problem', () => {
    const outcomes = problemOutcomes(
      answers(3, 2, (p, s) => (s === 'g' ? p === 1 : s <= p - 1)),
      3,
      2,
    );
    expect(outcomes).toEqual([
      { greedyCorrect: false, samples: 2, correctSamples: 0 },
      { greedyCorrect: true, samples: 2, correctSamples: 1 },
      { greedyCorrect: false, samples: 2, correctSamples: 2 },
    ]);
  });

  it('refuses missing, extra, unscored or out-of-range answers', () => {
    const complete = answers(2, 2, () => true);
    expect(() => problemOutcomes(complete.slice(1), 2, 2)).toThrow(/problem 0 has 0 greedy and 2 sampled/);
    expect(() => problemOutcomes([...complete, complete[1]!], 2, 2)).toThrow(/problem 0 has 1 greedy and 3/);
    expect(() =>
      problemOutcomes(
        complete.map((a, i) => (i === 3 ? { ...a, correct: undefined } : a)),
        2,
        2,
      ),
    ).toThrow(/not scored/);
    expect(() => problemOutcomes(complete, 1, 2)).toThrow(/beyond the 1 problems/);
  });
});

describe('evalSampleSeed', () => {
  it('is stable, distinct per problem and sample, and fits a signed 32-bit integer', () => {
    const keys = [
      { kind: 'greedy' as const },
      ...[0, 1, 2].map((index) => ({ kind: 'sampled' as const, index })),
    ];
    const seeds = [0, 1, 2].flatMap((problem) => keys.map((key) => evalSampleSeed(7, problem, key)));
    expect(new Set(seeds).size).toBe(seeds.length);
    for (const seed of seeds) expect(seed).toBeLessThan(2 ** 31);
    expect(evalSampleSeed(7, 1, { kind: 'sampled', index: 2 })).toBe(seeds[1 * 4 + 3]);
    expect(evalSampleSeed(8, 1, { kind: 'sampled', index: 2 })).not.toBe(seeds[1 * 4 + 3]);
  });
});

describe('EvalSettingsSchema', () => {
  it('accepts the defaults of `mel eval` and names a bad field', () => {
    const settings = { k: 4, temperature: 1, maxTokens: 96, limit: null, seed: 0 };
    expect(EvalSettingsSchema.parse(settings)).toEqual(settings);
    const bad = EvalSettingsSchema.safeParse({ ...settings, k: 0, maxTokens: Number.NaN });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((issue) => issue.path[0]).sort()).toEqual(['k', 'maxTokens']);
  });
});
