import { describe, expect, it } from 'vitest';
import { groupRewards, summariseRewards } from '../../../mel/index.js';

/** Scored samples from rewards per prompt: `{ p0: [1, 0] }` is p0's sample 0 right and sample 1 wrong. */
const scored = (groups: Record<string, number[]>) =>
  Object.entries(groups).flatMap(([promptId, rewards]) =>
    rewards.map((reward, sampleIndex) => ({ promptId, sampleIndex, reward })),
  );

describe('reward groups', () => {
  it('groups rewards per prompt in sample order, whatever the input order', () => {
    const groups = groupRewards(scored({ p1: [1, 0], p0: [1, 1] }).reverse());
    expect([...groups]).toEqual([
      ['p0', [1, 1]],
      ['p1', [1, 0]],
    ]);
  });

  it('counts the pass rate over rollouts and the mixed groups over prompts', () => {
    expect(summariseRewards(scored({ p0: [1, 0], p1: [1, 1], p2: [0, 0] }))).toEqual({
      passRate: 0.5,
      mixedGroups: 1,
    });
  });

  it('summarises an empty step as zero', () => {
    expect(summariseRewards([])).toEqual({ passRate: 0, mixedGroups: 0 });
  });
});
