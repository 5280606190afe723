import { describe, expect, it } from 'vitest';
import {
  AdvantageConfigSchema,
  computeAdvantages,
  groupSamples,
  sampleAdvantages,
  summariseRewards,
} from '../../../mel/index.js';

/** Scored samples from rewards per prompt: `{ p0: [1, 0] }` is p0's sample 0 right and sample 1 wrong. */
const scored = (groups: Record<string, number[]>) =>
  Object.entries(groups).flatMap(([promptId, rewards]) =>
    rewards.map((reward, sampleIndex) => ({ promptId, sampleIndex, reward })),
  );

/** `{ p0: [1, 0] }` less the samples named `p0/s1`. */
const scoredWithout = (groups: Record<string, number[]>, excluded: string[]) =>
  scored(groups).filter((s) => !excluded.includes(`${s.promptId}/s${s.sampleIndex}`));

const advantageOf = (advantages: ReturnType<typeof sampleAdvantages>, id: string) =>
  advantages.find(({ sample }) => `${sample.promptId}/s${sample.sampleIndex}` === id)?.advantage;

describe('reward groups', () => {
  it('groups samples per prompt in sample order, whatever the input order', () => {
    const groups = groupSamples(scored({ p1: [1, 0], p0: [1, 1] }).reverse());
    expect([...groups].map(([id, group]) => [id, group.map((s) => s.sampleIndex)])).toEqual([
      ['p0', [0, 1]],
      ['p1', [0, 1]],
    ]);
  });

  it('leaves no hole where a sample was excluded', () => {
    const groups = groupSamples(scoredWithout({ p0: [1, 0, 0, 1] }, ['p0/s1']));
    expect(groups.get('p0')!.map((s) => [s.sampleIndex, s.reward])).toEqual([
      [0, 1],
      [2, 0],
      [3, 1],
    ]);
  });

  it('counts the pass rate over rollouts and the mixed groups over prompts', () => {
    expect(summariseRewards(scored({ p0: [1, 0], p1: [1, 1], p2: [0, 0] }))).toEqual({
      passRate: 0.5,
      mixedGroups: 1,
      rollouts: 6,
      correct: 3,
    });
  });

  it('summarises an empty step as zero', () => {
    expect(summariseRewards([])).toEqual({ passRate: 0, mixedGroups: 0, rollouts: 0, correct: 0 });
  });
});

describe('advantages of groups with excluded samples', () => {
  const config = AdvantageConfigSchema.parse({ stdEpsilon: 0 });

  it('are computed over the samples a group still has, named by their own sample index', () => {
    // p0 lost s1: its advantages are those of the group [1, 0, 1] (s0, s2, s3), not of [1, ?, 0, 1].
    const advantages = sampleAdvantages(scoredWithout({ p0: [1, 0, 0, 1], p1: [1, 0] }, ['p0/s1']), config);
    const [expected] = computeAdvantages([[1, 0, 1]], config);
    expect(['p0/s0', 'p0/s2', 'p0/s3'].map((id) => advantageOf(advantages, id))).toEqual(expected);
    expect(advantageOf(advantages, 'p0/s1')).toBeUndefined();
    expect(advantages).toHaveLength(5);
  });

  it('a group left with fewer than 2 samples contributes nothing, whatever the estimator', () => {
    const samples = scoredWithout({ p0: [1, 0, 0, 0], p1: [1, 0] }, ['p1/s1']);
    for (const estimator of ['grpo', 'dr_grpo', 'rloo', 'reinforce_pp', 'rft'] as const) {
      const advantages = sampleAdvantages(samples, AdvantageConfigSchema.parse({ estimator }));
      expect(advantageOf(advantages, 'p1/s0'), estimator).toBe(0);
      expect(advantageOf(advantages, 'p0/s0'), estimator).toBeGreaterThan(0);
    }
  });

  it('a lone sample does not enter REINFORCE++ batch statistics', () => {
    const reinforce = AdvantageConfigSchema.parse({ estimator: 'reinforce_pp', stdEpsilon: 0 });
    const alone = sampleAdvantages(scored({ p0: [1, 0, 0, 0] }), reinforce);
    const withLone = sampleAdvantages(scored({ p0: [1, 0, 0, 0], p1: [1] }), reinforce);
    expect(withLone.slice(0, 4)).toEqual(alone);
  });
});
