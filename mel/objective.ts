import { float32 } from './datums.js';
import type { Datum } from './types.js';

// The step's objective (paper Eq. 9) on an engine.
//
// Datums are stored in the paper's terms (mel/datums.ts): a rollout's completion tokens carry weight 1 and the
// advantage Â_i·g_i, where g_i is the rollout's share under the GRPO aggregation (1/(|y_i|·B) for Eq. 10); a
// meta-experience's trained tokens carry the weight c·n_j, where c is `nllCoefficient` and n_j its share under the
// NLL normalisation (1/(|M_j|·N) for Eq. 7). So in the ascent direction of one optimizer step, the coefficient of
// ∇log π(token) is weight·advantage·ratio for a rollout token (while the surrogate is unclipped) and the weight for
// a meta-experience token: exactly Eq. 9's gradient.
//
// What an engine must be sent for its optimizer step to follow those coefficients depends on how it reduces the
// loss (docs/mel.md, "The objective on each engine"):
//  - sum: the step's loss is the plain sum over datums and tokens of the loss function's per-token term (hosted
//    Tinker: cross_entropy −w·log p, importance_sampling and ppo −ratio·A). The stored datums go as they are.
//  - skyrl: each datum's loss is Σ_t w_t·ℓ_t / Σ_t w_t, and the gradient accumulated since the last optim_step is
//    divided by the number of datums (SkyRL's JAX backend). A constant per-datum scale is divided out of the
//    weights, so it goes into the advantages: a rollout's by D·|mask|, and a meta-experience is sent as an
//    importance-sampling datum at the policy's current logprobs (ratio 1, so its gradient is the NLL gradient)
//    whose advantages are its weights times D·|mask|.

export const LOSS_REDUCTIONS = ['skyrl', 'sum'] as const;
export type LossReduction = (typeof LOSS_REDUCTIONS)[number];

/** The loss functions a step's datums are sent with. */
export type ObjectiveLossFn = 'cross_entropy' | 'importance_sampling' | 'ppo' | 'cispo';

export interface EngineCall {
  lossFn: ObjectiveLossFn;
  data: Datum[];
}

/** Whether the NLL datums can only be sent once the policy's current logprobs of their targets are known. */
export function nllNeedsCurrentLogprobs(reduction: LossReduction): boolean {
  return reduction === 'skyrl';
}

/** Whether `reduction` divides a step's accumulated gradient by the number of datums it was sent. */
export function dividesByDatumCount(reduction: LossReduction): boolean {
  return reduction === 'skyrl';
}

/**
 * `count` datums that add nothing to the gradient but each count as one of the step's datums where the engine
 * divides by that count: one token of zero weight (SkyRL guards the zero weight sum, `jnp.maximum(loss_mask.sum,
 * 1e-9)`, so the datum's loss is 0). They let a step whose GRPO datums were scaled for D datums before its NLL
 * datums were counted make up the difference.
 */
export function countOnlyDatums(count: number): Datum[] {
  return Array.from({ length: count }, () => ({
    model_input: { chunks: [{ type: 'encoded_text', tokens: [0] }] },
    loss_fn_inputs: { target_tokens: { data: [0], dtype: 'int64' }, weights: float32([0]) },
  }));
}

/** The step's GRPO datums as `reduction` must receive them, in a step of `datumCount` datums in all. */
export function grpoCall(
  reduction: LossReduction,
  lossFn: Exclude<ObjectiveLossFn, 'cross_entropy'>,
  datums: readonly Datum[],
  datumCount: number,
): EngineCall {
  if (reduction === 'sum') return { lossFn, data: [...datums] };
  return {
    lossFn,
    data: datums.map((datum) => {
      const mask = maskOf(datum);
      const scale = datumCount * sum(mask);
      const advantages = (datum.loss_fn_inputs.advantages?.data ?? []).map((a) => a * scale);
      return withInputs(datum, { weights: float32(mask), advantages: float32(advantages) });
    }),
  };
}

/**
 * The step's NLL datums as `reduction` must receive them, in a step of `datumCount` datums in all.
 * `currentLogprobs` (one array per datum, from a forward pass on the model being trained) is needed where
 * `nllNeedsCurrentLogprobs` says so.
 */
export function nllCall(
  reduction: LossReduction,
  datums: readonly Datum[],
  datumCount: number,
  currentLogprobs?: readonly (readonly number[])[],
): EngineCall {
  if (reduction === 'sum') return { lossFn: 'cross_entropy', data: [...datums] };
  if (!currentLogprobs || currentLogprobs.length !== datums.length) {
    throw new Error(`${reduction} needs the current logprobs of each of the ${datums.length} NLL datums`);
  }
  return {
    lossFn: 'importance_sampling',
    data: datums.map((datum, i) => {
      const weights = datum.loss_fn_inputs.weights?.data ?? [];
      const logprobs = currentLogprobs[i]!;
      if (logprobs.length !== weights.length) {
        throw new Error(`NLL datum ${i}: ${logprobs.length} current logprobs for ${weights.length} targets`);
      }
      const mask = maskOf(datum);
      const scale = datumCount * sum(mask);
      return withInputs(datum, {
        weights: float32(mask),
        logprobs: float32([...logprobs]),
        advantages: float32(weights.map((w) => w * scale)),
      });
    }),
  };
}

export interface SurrogateConfig {
  lossFn: Exclude<ObjectiveLossFn, 'cross_entropy'>;
  clipLow: number;
  clipHigh: number;
}

/**
 * The GRPO term of the step's loss (−J_GRPO of Eq. 9) at the policy before the update, from stored datums and the
 * target logprobs the engine computed: Σ over rollout tokens of w·(−surrogate), with the ratio against the sampler's
 * logprobs. Engine-independent: it reads no engine's elementwise loss, whatever that engine scales it by.
 */
export function surrogateLoss(
  datums: readonly Datum[],
  targetLogprobs: readonly (readonly number[])[],
  config: SurrogateConfig,
): number {
  let loss = 0;
  datums.forEach((datum, d) => {
    const inputs = datum.loss_fn_inputs;
    const weights = inputs.weights?.data ?? [];
    weights.forEach((w, t) => {
      if (w === 0) return;
      const logprob = targetLogprobs[d]?.[t] ?? 0;
      const ratio = Math.exp(logprob - (inputs.logprobs?.data[t] ?? 0));
      const advantage = inputs.advantages?.data[t] ?? 0;
      loss -= w * surrogate(config, ratio, advantage, logprob);
    });
  });
  return loss;
}

function surrogate(config: SurrogateConfig, ratio: number, advantage: number, logprob: number): number {
  const clipped = Math.min(config.clipHigh, Math.max(config.clipLow, ratio));
  switch (config.lossFn) {
    case 'importance_sampling':
      return ratio * advantage;
    case 'ppo':
      return Math.min(ratio * advantage, clipped * advantage);
    case 'cispo':
      return clipped * logprob * advantage;
  }
}

/** 1 where the datum trains a token (a positive weight), 0 elsewhere. */
function maskOf(datum: Datum): number[] {
  return (datum.loss_fn_inputs.weights?.data ?? []).map((w) => (w > 0 ? 1 : 0));
}

function withInputs(datum: Datum, inputs: Partial<Datum['loss_fn_inputs']>): Datum {
  return { model_input: datum.model_input, loss_fn_inputs: { ...datum.loss_fn_inputs, ...inputs } };
}

function sum(values: readonly number[]): number {
  return values.reduce((total, v) => total + v, 0);
}
