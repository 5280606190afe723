import { computeAdvantages, isMixedGroup } from './advantages.js';
import { AdvantageConfigSchema, type AdvantageConfig } from './config.js';

/** What grouping needs of a scored rollout. */
export interface ScoredSample {
  promptId: string;
  sampleIndex: number;
  reward: number;
}

/**
 * The scored samples of each prompt, in sample order. An excluded sample is simply absent: a group may hold fewer
 * than G samples, and its sample indices need not be contiguous.
 */
export function groupSamples<T extends ScoredSample>(samples: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const sample of [...samples].sort((a, b) => a.sampleIndex - b.sampleIndex)) {
    const group = groups.get(sample.promptId) ?? [];
    group.push(sample);
    groups.set(sample.promptId, group);
  }
  return groups;
}

/** Each sample's advantage, computed over the samples its group still has (Eq. 10 with excluded samples). */
export function sampleAdvantages<T extends ScoredSample>(
  samples: readonly T[],
  config: AdvantageConfig = AdvantageConfigSchema.parse({}),
): { sample: T; advantage: number }[] {
  const groups = [...groupSamples(samples).values()];
  const advantages = computeAdvantages(
    groups.map((group) => group.map((s) => s.reward)),
    config,
  );
  return groups.flatMap((group, g) => group.map((sample, i) => ({ sample, advantage: advantages[g]![i]! })));
}

/**
 * A step's (or a chunk's) verification: the fraction of correct rollouts and the groups MEL can contrast, with the
 * counts that combine chunks' summaries (mel/fan-out.ts).
 */
export function summariseRewards(samples: readonly ScoredSample[]): RewardSummary {
  const correct = samples.filter((sample) => sample.reward === 1).length;
  const groups = [...groupSamples(samples).values()].map((group) => group.map((s) => s.reward));
  return {
    passRate: samples.length ? correct / samples.length : 0,
    mixedGroups: groups.filter(isMixedGroup).length,
    rollouts: samples.length,
    correct,
  };
}

export interface RewardSummary {
  passRate: number;
  mixedGroups: number;
  rollouts: number;
  correct: number;
}
