import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AdvantageConfigSchema,
  computeAdvantages,
  drGrpoAdvantages,
  grpoAdvantages,
  isMixedGroup,
  reinforcePlusPlusAdvantages,
  rftAdvantages,
  rlooAdvantages,
} from '../../../mel/index.js';

const sampleStd = { stdEpsilon: 0, stdEstimator: 'sample' as const };
const binaryGroup = fc.array(fc.constantFrom(0, 1), { minLength: 2, maxLength: 16 });
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe('GRPO advantages', () => {
  it('matches a hand computation: rewards [1,0,0,0], sample std', () => {
    // mean 0.25; sample variance = (0.5625 + 3·0.0625)/3 = 0.25, std 0.5
    expect(grpoAdvantages([1, 0, 0, 0], sampleStd)).toEqual([1.5, -0.5, -0.5, -0.5]);
  });

  it('matches a hand computation with the population std', () => {
    // population variance = 0.75/4 = 0.1875, std = sqrt(3)/4
    const advantages = grpoAdvantages([1, 0, 0, 0], { stdEpsilon: 0, stdEstimator: 'population' });
    expect(advantages[0]).toBeCloseTo(0.75 / (Math.sqrt(3) / 4), 12);
    expect(advantages[1]).toBeCloseTo(-0.25 / (Math.sqrt(3) / 4), 12);
  });

  it('adds epsilon to the std', () => {
    const [first] = grpoAdvantages([1, 0], { stdEpsilon: 0.5, stdEstimator: 'population' });
    expect(first).toBeCloseTo(0.5 / (0.5 + 0.5), 12);
  });

  it('gives zeros to an all-equal group and to a single rollout, even with epsilon 0', () => {
    expect(grpoAdvantages([1, 1, 1], sampleStd)).toEqual([0, 0, 0]);
    expect(grpoAdvantages([0, 0, 0, 0], sampleStd)).toEqual([0, 0, 0, 0]);
    expect(grpoAdvantages([1], sampleStd)).toEqual([0]);
  });

  it('property: advantages sum to 0 and have unit sample std on mixed groups', () => {
    fc.assert(
      fc.property(binaryGroup.filter(isMixedGroup), (rewards) => {
        const advantages = grpoAdvantages(rewards, sampleStd);
        expect(sum(advantages)).toBeCloseTo(0, 9);
        const variance = sum(advantages.map((a) => a * a)) / (advantages.length - 1);
        expect(variance).toBeCloseTo(1, 9);
        rewards.forEach((r, i) => expect(Math.sign(advantages[i] as number)).toBe(r > 0 ? 1 : -1));
      }),
    );
  });
});

describe('other estimators', () => {
  it('Dr. GRPO centres without scaling', () => {
    expect(drGrpoAdvantages([1, 0, 0, 0])).toEqual([0.75, -0.25, -0.25, -0.25]);
  });

  it('RLOO subtracts the mean of the other rollouts', () => {
    // r_0 = 1 against the mean of three zeros; r_1 = 0 against mean(1, 0, 0) = 1/3
    const [a0, a1] = rlooAdvantages([1, 0, 0, 0]);
    expect(a0).toBeCloseTo(1, 12);
    expect(a1).toBeCloseTo(-1 / 3, 12);
  });

  it('property: RLOO is leave-one-out for arbitrary real rewards', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 2, maxLength: 12 }),
        (rewards) => {
          const advantages = rlooAdvantages(rewards);
          rewards.forEach((r, i) => {
            const others = rewards.filter((_, j) => j !== i);
            expect(advantages[i]).toBeCloseTo(r - sum(others) / others.length, 9);
          });
        },
      ),
    );
  });

  it('REINFORCE++ (group baseline) divides by the std over the whole batch', () => {
    // centred groups [0.5,-0.5] and [0,0,0,0]: batch of 6 values, sum of squares 0.5, sample variance 0.1
    const [first, second] = reinforcePlusPlusAdvantages(
      [
        [1, 0],
        [1, 1, 1, 1],
      ],
      sampleStd,
    );
    expect(first?.[0]).toBeCloseTo(0.5 / Math.sqrt(0.1), 12);
    expect(first?.[1]).toBeCloseTo(-0.5 / Math.sqrt(0.1), 12);
    expect(second).toEqual([0, 0, 0, 0]);
  });

  it('RFT keeps correct rollouts (1) and drops the others (0), all-correct groups included', () => {
    expect(rftAdvantages([1, 0, 1])).toEqual([1, 0, 1]);
    expect(rftAdvantages([1, 1])).toEqual([1, 1]);
  });

  it('computeAdvantages dispatches on the configured estimator and keeps the grouping', () => {
    const groups = [
      [1, 0, 0, 0],
      [0, 0],
    ];
    const config = (estimator: string) => AdvantageConfigSchema.parse({ estimator, stdEpsilon: 0 });
    expect(computeAdvantages(groups, config('grpo'))).toEqual([
      [1.5, -0.5, -0.5, -0.5],
      [0, 0],
    ]);
    expect(computeAdvantages(groups, config('dr_grpo'))).toEqual([
      [0.75, -0.25, -0.25, -0.25],
      [0, 0],
    ]);
    expect(computeAdvantages(groups, config('rft'))).toEqual([
      [1, 0, 0, 0],
      [0, 0],
    ]);
    expect(computeAdvantages(groups, config('rloo'))[0]?.[0]).toBeCloseTo(1, 12);
    expect(computeAdvantages(groups, config('reinforce_pp')).map((g) => g.length)).toEqual([4, 2]);
  });

  it('computeAdvantages gives a group of fewer than 2 zeros, RFT included', () => {
    const config = AdvantageConfigSchema.parse({ estimator: 'rft' });
    expect(computeAdvantages([[1], [], [1, 0]], config)).toEqual([[0], [], [1, 0]]);
  });

  it('defaults to GRPO with epsilon 1e-6 and the sample std', () => {
    const [first] = computeAdvantages([[1, 0]]);
    // sample std of [1, 0] = sqrt(0.5)
    expect(first?.[0]).toBeCloseTo(0.5 / (Math.sqrt(0.5) + 1e-6), 12);
  });
});

describe('isMixedGroup', () => {
  it('is true only with both correct and incorrect rollouts', () => {
    expect(isMixedGroup([1, 0])).toBe(true);
    expect(isMixedGroup([1, 1])).toBe(false);
    expect(isMixedGroup([0, 0])).toBe(false);
    expect(isMixedGroup([])).toBe(false);
  });
});
