// GRPO datums built a prompt chunk at a time, before the step's other chunks are verified. Everything in the GRPO
// term that depends on the chunk alone goes into the chunk's datums; what depends on the whole batch (Eq. 10's 1/B,
// a token mean's 1/T, REINFORCE++'s batch standard deviation) is one factor per step, applied to every datum's
// advantages at the policy update from the chunks' recorded statistics. The product equals the datums built for
// the whole step at once.
import { MIN_GROUP_SIZE } from './advantages.js';
import type { AdvantageConfig, GrpoLossAggregation } from './config.js';
import type { ItemRange } from './fan-out.js';
import type { RolloutBatch } from './datums.js';
import type { Datum } from './types.js';

/** A chunk's datums carry each rollout's own share only: the batch counts as one rollout of one token. */
export const UNIT_BATCH: RolloutBatch = { rollouts: 1, completionTokens: 1 };

/** What one chunk of a step's rollouts adds to the statistics the step's GRPO datums are scaled by. */
export interface GrpoBatchPart {
  /** GRPO datums the chunk wrote (zero-advantage rollouts are not sent). */
  datums: number;
  /** Usable rollouts: Eq. 10's B. */
  rollouts: number;
  /** Their completion tokens: a token mean's T. */
  completionTokens: number;
  /** Rewards centred on their group's mean (groups of at least MIN_GROUP_SIZE), and the sum of their squares. */
  centred: number;
  centredSquares: number;
}

/**
 * The estimator a chunk applies: REINFORCE++ divides the group-centred rewards by their standard deviation over the
 * batch, so a chunk only centres them (Dr. GRPO's advantage) and the division is part of the step's factor.
 */
export function chunkAdvantageConfig(config: AdvantageConfig): AdvantageConfig {
  return config.estimator === 'reinforce_pp' ? { ...config, estimator: 'dr_grpo' } : config;
}

/** A chunk's statistics (all but its datum count) from its usable rollouts, each with its group and chunk advantage. */
export function grpoBatchPart(
  rollouts: readonly { group: string; advantage: number; completionTokens: number }[],
): Omit<GrpoBatchPart, 'datums'> {
  const groupSizes = new Map<string, number>();
  for (const { group } of rollouts) groupSizes.set(group, (groupSizes.get(group) ?? 0) + 1);
  const part = { rollouts: rollouts.length, completionTokens: 0, centred: 0, centredSquares: 0 };
  for (const { group, advantage, completionTokens } of rollouts) {
    part.completionTokens += completionTokens;
    if (groupSizes.get(group)! < MIN_GROUP_SIZE) continue;
    part.centred += 1;
    part.centredSquares += advantage * advantage;
  }
  return part;
}

/**
 * The step's statistics from its chunks'. The chunks must tile the step's prompts from 0 without overlapping:
 * statistics recorded under another chunking of the same step would be counted twice.
 */
export function combineGrpoBatch(parts: readonly (GrpoBatchPart & { items: ItemRange })[]): GrpoBatchPart {
  const total: GrpoBatchPart = { datums: 0, rollouts: 0, completionTokens: 0, centred: 0, centredSquares: 0 };
  let next = 0;
  for (const part of [...parts].sort((a, b) => a.items.start - b.items.start)) {
    const { start, end } = part.items;
    if (start !== next) {
      throw new Error(
        `the step's GRPO batch statistics do not tile its prompts: prompts ${start}–${end} follow prompts up to ${next}`,
      );
    }
    next = end;
    for (const field of Object.keys(total) as (keyof GrpoBatchPart)[]) total[field] += part[field];
  }
  return total;
}

/**
 * The factor every chunk-built GRPO datum's advantages are multiplied by: the aggregation's batch normalisation
 * (rolloutCoefficients over UNIT_BATCH left it out) and, for REINFORCE++, 1/(std + ε) of the batch's centred rewards
 * (their mean is 0 by construction), or 0 when they are all equal, as reinforcePlusPlusAdvantages gives.
 */
export function grpoBatchScale(
  batch: GrpoBatchPart,
  aggregation: GrpoLossAggregation,
  advantage: AdvantageConfig,
): number {
  const normaliser = {
    'seq-mean-token-mean': batch.rollouts,
    'token-mean': batch.completionTokens,
    'token-sum': 1,
  }[aggregation];
  if (normaliser === 0) return 0;
  if (advantage.estimator !== 'reinforce_pp') return 1 / normaliser;
  const divisor = advantage.stdEstimator === 'sample' ? batch.centred - 1 : batch.centred;
  const std = divisor > 0 ? Math.sqrt(batch.centredSquares / divisor) : 0;
  return std === 0 ? 0 : 1 / (normaliser * (std + advantage.stdEpsilon));
}

/** `datum` with its advantages multiplied by `scale`; one without advantages is returned as it is. */
export function scaleAdvantages(datum: Datum, scale: number): Datum {
  const advantages = datum.loss_fn_inputs.advantages;
  if (!advantages || scale === 1) return datum;
  return {
    ...datum,
    loss_fn_inputs: {
      ...datum.loss_fn_inputs,
      advantages: { ...advantages, data: advantages.data.map((a) => a * scale) },
    },
  };
}
