import { isMixedGroup } from './advantages.js';
import { PairConfigSchema, type PairConfig } from './config.js';
import { deriveSeed, sampleIndices, seededRandom } from './random.js';
import type { ContrastivePair } from './types.js';

// P_x = {(y+, y−) | y+ ∈ Y+, y− ∈ Y−} (paper §3.2), for mixed groups only.

/** Every (correct, incorrect) pair of a group, correct index major, both ascending. */
export function allContrastivePairs(rewards: readonly number[]): ContrastivePair[] {
  const positives = rewards.flatMap((r, i) => (r > 0 ? [i] : []));
  const negatives = rewards.flatMap((r, i) => (r > 0 ? [] : [i]));
  return positives.flatMap((positiveIndex) =>
    negatives.map((negativeIndex) => ({ positiveIndex, negativeIndex })),
  );
}

/**
 * The pairs of one group: none unless the group is mixed; all k·(G−k) pairs unless a cap is set;
 * otherwise a uniform sample without replacement, seeded by (config.seed, groupKey) so that the
 * same group always yields the same pairs and different groups get independent samples.
 */
export function selectContrastivePairs(
  rewards: readonly number[],
  groupKey: string,
  config: PairConfig = PairConfigSchema.parse({}),
): ContrastivePair[] {
  if (!isMixedGroup(rewards)) return [];
  const pairs = allContrastivePairs(rewards);
  const cap = config.maxPairsPerGroup;
  if (cap === undefined || pairs.length <= cap) return pairs;
  const random = seededRandom(deriveSeed(config.seed, groupKey));
  return sampleIndices(random, pairs.length, cap).map((i) => pairs[i] as ContrastivePair);
}

/**
 * The pairs of a group that may have lost samples (excluded as unusable): chosen as above over the samples it still
 * has, and named by sample index, not by position.
 */
export function selectSamplePairs(
  samples: readonly { sampleIndex: number; reward: number }[],
  groupKey: string,
  config: PairConfig = PairConfigSchema.parse({}),
): ContrastivePair[] {
  const indexAt = (position: number) => samples[position]!.sampleIndex;
  return selectContrastivePairs(
    samples.map((s) => s.reward),
    groupKey,
    config,
  ).map((pair) => ({
    positiveIndex: indexAt(pair.positiveIndex),
    negativeIndex: indexAt(pair.negativeIndex),
  }));
}
