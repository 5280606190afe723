import { AdvantageConfigSchema, type AdvantageConfig } from './config.js';

// Trajectory-level advantages, one per rollout, broadcast to every completion token by the datum builder.
// Input: the rewards of each group (one group = the G rollouts of one problem) of a training batch.

function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

function standardDeviation(values: readonly number[], estimator: AdvantageConfig['stdEstimator']): number {
  const divisor = estimator === 'sample' ? values.length - 1 : values.length;
  if (divisor <= 0) return 0;
  const centre = mean(values);
  return Math.sqrt(values.reduce((sum, v) => sum + (v - centre) ** 2, 0) / divisor);
}

function centred(rewards: readonly number[]): number[] {
  const centre = mean(rewards);
  return rewards.map((r) => r - centre);
}

/** GRPO: (r_i − mean) / (std + ε). An all-equal group gets zeros, never a division by ~0. */
export function grpoAdvantages(
  rewards: readonly number[],
  config: Pick<AdvantageConfig, 'stdEpsilon' | 'stdEstimator'>,
): number[] {
  if (rewards.length < 2) return rewards.map(() => 0);
  const std = standardDeviation(rewards, config.stdEstimator);
  if (std === 0) return rewards.map(() => 0);
  return centred(rewards).map((a) => a / (std + config.stdEpsilon));
}

/** Dr. GRPO: r_i − mean, without the std division that biases towards easy and hard groups. */
export function drGrpoAdvantages(rewards: readonly number[]): number[] {
  if (rewards.length < 2) return rewards.map(() => 0);
  return centred(rewards);
}

/** RLOO: r_i minus the mean of the other G−1 rewards, i.e. G/(G−1)·(r_i − mean). */
export function rlooAdvantages(rewards: readonly number[]): number[] {
  const n = rewards.length;
  if (n < 2) return rewards.map(() => 0);
  return centred(rewards).map((a) => (a * n) / (n - 1));
}

/**
 * REINFORCE++ with a group baseline (OpenRLHF's "reinforce_baseline"): subtract the group mean, then
 * divide by the standard deviation of those centred values over the whole batch.
 */
export function reinforcePlusPlusAdvantages(
  groups: readonly (readonly number[])[],
  config: Pick<AdvantageConfig, 'stdEpsilon' | 'stdEstimator'>,
): number[][] {
  const centredGroups = groups.map(drGrpoAdvantages);
  const all = centredGroups.flat();
  const std = standardDeviation(all, config.stdEstimator);
  if (std === 0) return centredGroups.map((group) => group.map(() => 0));
  return centredGroups.map((group) => group.map((a) => a / (std + config.stdEpsilon)));
}

/** RFT (rejection-sampling fine-tuning): keep correct rollouts with weight 1, drop the rest (weight 0). */
export function rftAdvantages(rewards: readonly number[]): number[] {
  return rewards.map((r) => (r > 0 ? 1 : 0));
}

/** A group needs two samples for a baseline; a smaller one (samples excluded as unusable) contributes nothing. */
export const MIN_GROUP_SIZE = 2;

function estimate(groups: readonly (readonly number[])[], config: AdvantageConfig): number[][] {
  switch (config.estimator) {
    case 'grpo':
      return groups.map((g) => grpoAdvantages(g, config));
    case 'dr_grpo':
      return groups.map(drGrpoAdvantages);
    case 'rloo':
      return groups.map(rlooAdvantages);
    case 'reinforce_pp':
      return reinforcePlusPlusAdvantages(groups, config);
    case 'rft':
      return groups.map(rftAdvantages);
  }
}

/**
 * Advantages for every rollout of a batch, grouped as the rewards are; the estimator is chosen by config. A group
 * holds the samples it still has (docs/mel.md, "Bad items"); one smaller than MIN_GROUP_SIZE gets zeros whatever
 * the estimator, and is left out of batch statistics (REINFORCE++'s std).
 */
export function computeAdvantages(
  groups: readonly (readonly number[])[],
  config: AdvantageConfig = AdvantageConfigSchema.parse({}),
): number[][] {
  const large = (group: readonly number[]) => group.length >= MIN_GROUP_SIZE;
  const estimated = estimate(groups.filter(large), config);
  let next = 0;
  return groups.map((group) => (large(group) ? estimated[next++]! : group.map(() => 0)));
}

/** A group is "gradient-informative" (paper §3.2) when it holds both correct and incorrect rollouts. */
export function isMixedGroup(rewards: readonly number[]): boolean {
  return rewards.some((r) => r > 0) && rewards.some((r) => r <= 0);
}
