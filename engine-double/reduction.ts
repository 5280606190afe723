// How an optimizer step weighs the tokens it was given, as a record tests can check.
//  - skyrl: each datum's loss is Σ_t w_t·loss_t / Σ_t w_t, and the accumulated gradient is divided by the number
//    of datums since the last optim_step (SkyRL JAX: per-datum normalisation, AccumulatedGradients.get_mean).
//  - sum: the plain Σ_t w_t·loss_t over all datums (hosted Tinker, `loss:sum`).

import type { LossReduction } from '../mel/objective.js';

export type Reduction = LossReduction;

/** One datum as forward_backward received it. */
export interface AccumulatedDatum {
  /** 0-based forward_backward call since the last optim_step, and the datum's index in it. */
  call: number;
  index: number;
  lossFn: string;
  weights: readonly number[];
  /** Per token: the coefficient of ∇log π(target) in the ascent direction of the datum's loss terms. */
  gradient: readonly number[];
}

export interface EffectiveDatumWeights {
  call: number;
  index: number;
  lossFn: string;
  weightSum: number;
  /** What each raw weight is multiplied by in the step's objective. */
  scale: number;
  /** Per token: weight × scale. */
  effective: number[];
  /** Per token: the coefficient of ∇log π(target) in the step's ascent direction (gradient × scale). */
  gradient: number[];
}

export function datumScale(reduction: Reduction, weightSum: number, datumCount: number): number {
  if (reduction === 'sum') return 1;
  return weightSum === 0 || datumCount === 0 ? 0 : 1 / (weightSum * datumCount);
}

export function effectiveWeights(
  reduction: Reduction,
  datums: readonly AccumulatedDatum[],
): EffectiveDatumWeights[] {
  return datums.map((datum) => {
    const weightSum = datum.weights.reduce((sum, w) => sum + w, 0);
    const scale = datumScale(reduction, weightSum, datums.length);
    return {
      call: datum.call,
      index: datum.index,
      lossFn: datum.lossFn,
      weightSum,
      scale,
      effective: datum.weights.map((w) => w * scale),
      gradient: datum.gradient.map((g) => g * scale),
    };
  });
}
