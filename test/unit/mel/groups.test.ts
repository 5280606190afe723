import { describe, expect, it } from 'vitest';
import { groupRewards, summariseRewards } from '../../../mel/index.js';

const sample = (promptId: string, sampleIndex: number, reward: number) => ({ promptId, sampleIndex, reward });

describe('reward groups', () => {
  it('groups rewards per prompt in sample order, whatever the input order', () => {
    const groups = groupRewards([
      sample('p1', 1, 0),
      sample('p0', 0, 1),
      sample('p1', 0, 1),
      sample('p0', 1, 1),
    ]);
    expect([...groups]).toEqual([
      ['p0', [1, 1]],
      ['p1', [1, 0]],
    ]);
  });

  it('counts the pass rate over rollouts and the mixed groups over prompts', () => {
    const summary = summariseRewards([
      sample('p0', 0, 1),
      sample('p0', 1, 0),
      sample('p1', 0, 1),
      sample('p1', 1, 1),
      sample('p2', 0, 0),
      sample('p2', 1, 0),
    ]);
    expect(summary).toEqual({ passRate: 0.5, mixedGroups: 1 });
  });

  it('summarises an empty step as zero', () => {
    expect(summariseRewards([])).toEqual({ passRate: 0, mixedGroups: 0 });
  });
});
