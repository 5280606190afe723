// SkyRL's JAX loss functions (skyrl/tinker/loss_fns.py), per token, on the double's logprobs. The elementwise loss
// is already multiplied by the mask (`weights`), as SkyRL's safe_loss_mask does.

export type LossFn = 'cross_entropy' | 'importance_sampling' | 'ppo' | 'cispo';

export interface LossConfig {
  clipLow: number;
  clipHigh: number;
}

/** SkyRL's defaults for the ppo and cispo clip thresholds. */
export const DEFAULT_LOSS_CONFIG: LossConfig = { clipLow: 0.8, clipHigh: 1.2 };

export interface TokenInputs {
  /** The model's logprob of the target token. */
  logprob: number;
  weight: number;
  samplingLogprob: number;
  advantage: number;
}

function clip(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

function unmaskedLoss(fn: LossFn, t: TokenInputs, config: LossConfig): number {
  const ratio = Math.exp(t.logprob - t.samplingLogprob);
  switch (fn) {
    case 'cross_entropy':
      return -t.logprob;
    case 'importance_sampling':
      return -ratio * t.advantage;
    case 'ppo':
      return -Math.min(ratio * t.advantage, clip(ratio, config.clipLow, config.clipHigh) * t.advantage);
    case 'cispo':
      return -clip(ratio, config.clipLow, config.clipHigh) * t.logprob * t.advantage;
  }
}

export function tokenLoss(fn: LossFn, t: TokenInputs, config: LossConfig = DEFAULT_LOSS_CONFIG): number {
  return t.weight === 0 ? 0 : t.weight * unmaskedLoss(fn, t, config);
}

/**
 * −∂(tokenLoss)/∂logprob: the coefficient of ∇log π(token) in the ascent direction of this token's loss. Zero where
 * the ppo surrogate is clipped (its clipped branch is constant in the logprob); cispo's ratio carries no gradient.
 */
export function tokenGradient(fn: LossFn, t: TokenInputs, config: LossConfig = DEFAULT_LOSS_CONFIG): number {
  if (t.weight === 0) return 0;
  const ratio = Math.exp(t.logprob - t.samplingLogprob);
  const clipped = clip(ratio, config.clipLow, config.clipHigh);
  switch (fn) {
    case 'cross_entropy':
      return t.weight;
    case 'importance_sampling':
      return t.weight * ratio * t.advantage;
    case 'ppo':
      return ratio * t.advantage <= clipped * t.advantage ? t.weight * ratio * t.advantage : 0;
    case 'cispo':
      return t.weight * clipped * t.advantage;
  }
}

export interface DatumLossInputs {
  logprobs: readonly number[];
  /** Absent: all ones (SkyRL fills them in). */
  weights?: readonly number[];
  samplingLogprobs?: readonly number[];
  advantages?: readonly number[];
}

function tokensOf(datum: DatumLossInputs): TokenInputs[] {
  return datum.logprobs.map((logprob, i) => ({
    logprob,
    weight: datum.weights?.[i] ?? 1,
    samplingLogprob: datum.samplingLogprobs?.[i] ?? 0,
    advantage: datum.advantages?.[i] ?? 0,
  }));
}

export function elementwiseLoss(fn: LossFn, datum: DatumLossInputs, config?: LossConfig): number[] {
  return tokensOf(datum).map((t) => tokenLoss(fn, t, config));
}

/** Per token: `tokenGradient`. */
export function logprobGradients(fn: LossFn, datum: DatumLossInputs, config?: LossConfig): number[] {
  return tokensOf(datum).map((t) => tokenGradient(fn, t, config));
}
