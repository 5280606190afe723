import type { GrpoLossAggregation, NllNormalisation } from './config.js';
import type { Datum, Float32Tensor } from './types.js';

// Tinker training data. A sequence is built from segments whose per-token values (weight, sampler
// logprob, advantage) belong to the position that PREDICTS the token; the datum is then pre-shifted:
// model_input = full[:-1], target_tokens = full[1:], and every per-token array drops its first entry.

export interface TokenSegment {
  tokens: readonly number[];
  /** Loss weight of each token of this segment (0 = context, never trained). */
  weight?: number;
  /** Sampler log-probabilities, one per token (0 when absent). */
  logprobs?: readonly number[];
  advantage?: number;
}

interface AlignedSequence {
  tokens: number[];
  weights: number[];
  logprobs: number[];
  advantages: number[];
}

function alignSegments(segments: readonly TokenSegment[]): AlignedSequence {
  const aligned: AlignedSequence = { tokens: [], weights: [], logprobs: [], advantages: [] };
  for (const segment of segments) {
    if (segment.logprobs !== undefined && segment.logprobs.length !== segment.tokens.length) {
      throw new Error(`segment has ${segment.tokens.length} tokens but ${segment.logprobs.length} logprobs`);
    }
    segment.tokens.forEach((token, i) => {
      aligned.tokens.push(token);
      aligned.weights.push(segment.weight ?? 0);
      aligned.logprobs.push(segment.logprobs?.[i] ?? 0);
      aligned.advantages.push(segment.advantage ?? 0);
    });
  }
  if (aligned.tokens.length < 2) throw new Error('a datum needs at least two tokens');
  if ((aligned.weights[0] ?? 0) !== 0)
    throw new Error('the first token has no predecessor and cannot be trained');
  return aligned;
}

export function float32(data: number[]): Float32Tensor {
  return { data, dtype: 'float32' };
}

/** Pre-shifted datum; `include` picks which per-token arrays go into loss_fn_inputs. */
export function shiftedDatum(
  segments: readonly TokenSegment[],
  include: { logprobs: boolean; advantages: boolean },
): Datum {
  const aligned = alignSegments(segments);
  return {
    model_input: { chunks: [{ type: 'encoded_text', tokens: aligned.tokens.slice(0, -1) }] },
    loss_fn_inputs: {
      target_tokens: { data: aligned.tokens.slice(1), dtype: 'int64' },
      weights: float32(aligned.weights.slice(1)),
      ...(include.logprobs ? { logprobs: float32(aligned.logprobs.slice(1)) } : {}),
      ...(include.advantages ? { advantages: float32(aligned.advantages.slice(1)) } : {}),
    },
  };
}

// ---- RL (GRPO and the other estimators): loss_fn "importance_sampling" or "ppo" ----

export interface RolloutSample {
  /** Exactly the tokens the sampler was prompted with. */
  promptTokens: readonly number[];
  /** Sampled tokens, verbatim (never decoded and re-encoded). */
  completionTokens: readonly number[];
  completionLogprobs: readonly number[];
  advantage: number;
}

/**
 * One rollout: zero weight, logprob and advantage on prompt positions; on completion ones weight 1 and the advantage
 * times `coefficient`, the rollout's share of the GRPO term (mel/objective.ts).
 */
export function rolloutDatum(sample: RolloutSample, coefficient = 1): Datum {
  if (sample.promptTokens.length === 0 || sample.completionTokens.length === 0) {
    throw new Error('a rollout datum needs a non-empty prompt and completion');
  }
  return shiftedDatum(
    [
      { tokens: sample.promptTokens },
      {
        tokens: sample.completionTokens,
        weight: 1,
        logprobs: sample.completionLogprobs,
        advantage: sample.advantage * coefficient,
      },
    ],
    { logprobs: true, advantages: true },
  );
}

/** What the GRPO term averages over: every usable rollout of the step, zero-advantage ones included. */
export interface RolloutBatch {
  rollouts: number;
  completionTokens: number;
}

/**
 * Each rollout's share g_i of the GRPO term: Eq. 10's (1/B)·Σ_i (1/|y_i|)·Σ_t gives 1/(|y_i|·B); a token mean over
 * the batch 1/T; a token sum 1. B and T count the whole batch, also rollouts that are not sent (zero advantage).
 */
export function rolloutCoefficients(
  completionLengths: readonly number[],
  aggregation: GrpoLossAggregation,
  batch: RolloutBatch = { rollouts: completionLengths.length, completionTokens: sum(completionLengths) },
): number[] {
  return completionLengths.map((length) => {
    switch (aggregation) {
      case 'seq-mean-token-mean':
        return 1 / (length * batch.rollouts);
      case 'token-mean':
        return 1 / batch.completionTokens;
      case 'token-sum':
        return 1;
    }
  });
}

export function rolloutDatums(
  samples: readonly RolloutSample[],
  aggregation: GrpoLossAggregation = 'seq-mean-token-mean',
  batch?: RolloutBatch,
): Datum[] {
  const coefficients = rolloutCoefficients(
    samples.map((s) => s.completionTokens.length),
    aggregation,
    batch,
  );
  return samples.map((sample, i) => rolloutDatum(sample, coefficients[i]));
}

function sum(values: readonly number[]): number {
  return values.reduce((total, v) => total + v, 0);
}

// ---- Internalisation (paper Eq. 7): loss_fn "cross_entropy" on the meta-experience tokens only ----

export interface NllSegment {
  tokens: readonly number[];
  /** True for meta-experience tokens M*, false for the retrospective context [I, x, y−, y+]. */
  train: boolean;
}

export interface NllExample {
  segments: readonly NllSegment[];
}

export function trainedTokenCount(example: NllExample): number {
  return example.segments.reduce((sum, s) => sum + (s.train ? s.tokens.length : 0), 0);
}

export function nllDatum(example: NllExample, tokenWeight: number): Datum {
  return shiftedDatum(
    example.segments.map((s) => ({ tokens: s.tokens, weight: s.train ? tokenWeight : 0 })),
    { logprobs: false, advantages: false },
  );
}

/**
 * Eq. 7: L = −mean_j (1/|M_j|)·Σ_t log π(M_j,t | C_retro, M_j,<t): weight 1/(|M_j|·N) on every
 * meta-experience token, so the weights of each datum sum to 1/N and all datums sum to 1; times `coefficient`,
 * the weight of J_NLL against J_GRPO (`mel.loss.nllCoefficient`, 1 in Eq. 9).
 */
export function nllTokenWeight(
  trainedTokens: number,
  exampleCount: number,
  normalisation: NllNormalisation,
  coefficient = 1,
): number {
  if (trainedTokens === 0) throw new Error('an internalisation example has no meta-experience tokens');
  switch (normalisation) {
    case 'eq7':
      return coefficient / (trainedTokens * exampleCount);
    case 'per-sequence':
      return coefficient / trainedTokens;
    case 'token-sum':
      return coefficient;
  }
}

export function nllDatums(
  examples: readonly NllExample[],
  normalisation: NllNormalisation = 'eq7',
  coefficient = 1,
): Datum[] {
  return examples.map((example) =>
    nllDatum(
      example,
      nllTokenWeight(trainedTokenCount(example), examples.length, normalisation, coefficient),
    ),
  );
}

/** Single-call mode: context = the Meta-Experience prompt as sampled, target = the sampled M tokens. */
export function singleCallNllExample(
  promptTokens: readonly number[],
  outputTokens: readonly number[],
): NllExample {
  return {
    segments: [
      { tokens: promptTokens, train: false },
      { tokens: outputTokens, train: true },
    ],
  };
}

function startsWith(sequence: readonly number[], prefix: readonly number[]): boolean {
  return prefix.length <= sequence.length && prefix.every((token, i) => sequence[i] === token);
}

/**
 * Chained mode: one datum for the whole three-turn conversation, training the three outputs
 * (s*, C, H). Each step's prompt must extend the previous prompt plus its output token for token.
 */
export function chainedNllExample(
  stepPromptTokens: readonly (readonly number[])[],
  stepOutputTokens: readonly (readonly number[])[],
): NllExample {
  if (stepPromptTokens.length !== stepOutputTokens.length || stepPromptTokens.length === 0) {
    throw new Error('chained mode needs one output per step prompt');
  }
  const segments: NllSegment[] = [];
  let consumed: number[] = [];
  stepPromptTokens.forEach((prompt, step) => {
    if (!startsWith(prompt, consumed)) {
      throw new Error(`step ${step} prompt does not extend the previous prompt and output`);
    }
    const output = stepOutputTokens[step] ?? [];
    segments.push({ tokens: prompt.slice(consumed.length), train: false }, { tokens: output, train: true });
    consumed = [...prompt, ...output];
  });
  return { segments };
}

/** NLL of one datum's trained positions, from the engine's target logprobs. */
export interface DatumNll {
  /** Σ_t w_t·(−log p_t) / Σ_t w_t: the token mean when the weights are equal, as every datum of ours has. */
  nll: number;
  /** Positions with a positive weight. */
  tokens: number;
  /** The first positive weight (0 when there is none). */
  weight: number;
}

/** The one per-datum NLL reduction: internalization records and the warm start's loss trace both use it. */
export function datumNll(datum: Datum, logprobs: readonly number[]): DatumNll {
  const weights = datum.loss_fn_inputs.weights?.data ?? [];
  let loss = 0;
  let weightSum = 0;
  let tokens = 0;
  weights.forEach((weight, t) => {
    loss -= weight * (logprobs[t] ?? 0);
    weightSum += weight;
    if (weight > 0) tokens++;
  });
  return {
    nll: weightSum === 0 ? 0 : loss / weightSum,
    tokens,
    weight: weights.find((weight) => weight > 0) ?? 0,
  };
}
