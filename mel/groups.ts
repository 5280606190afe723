import { isMixedGroup } from './advantages.js';

/** What grouping needs of a scored rollout. */
export interface ScoredSample {
  promptId: string;
  sampleIndex: number;
  reward: number;
}

/** Rewards per prompt, in sample order. */
export function groupRewards(samples: readonly ScoredSample[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  for (const sample of [...samples].sort((a, b) => a.sampleIndex - b.sampleIndex)) {
    const group = groups.get(sample.promptId) ?? [];
    group[sample.sampleIndex] = sample.reward;
    groups.set(sample.promptId, group);
  }
  return groups;
}

/** A step's verification in two numbers: the fraction of correct rollouts and the groups MEL can contrast. */
export function summariseRewards(samples: readonly ScoredSample[]): {
  passRate: number;
  mixedGroups: number;
} {
  const correct = samples.filter((sample) => sample.reward === 1).length;
  const groups = [...groupRewards(samples).values()];
  return {
    passRate: samples.length ? correct / samples.length : 0,
    mixedGroups: groups.filter(isMixedGroup).length,
  };
}
