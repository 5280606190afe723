import { hashString } from '../mel/random.js';
import { FutureFailure } from './errors.js';
import { hashTokens, mixInts } from './hash.js';
import { elementwiseLoss, logprobGradients, type LossConfig, type LossFn } from './losses.js';
import { targetLogprobs } from './logprobs.js';

// forward / forward_backward on the double's model: per-datum logprobs and elementwise losses in SkyRL's shapes.

export interface WireTensor {
  data: number[];
}

export interface WireDatum {
  model_input: { chunks: { tokens?: number[] }[] };
  loss_fn_inputs: Partial<Record<'target_tokens' | 'weights' | 'logprobs' | 'advantages', WireTensor>>;
}

export interface FloatTensor {
  data: number[];
  dtype: 'float32';
  shape: [number];
}

export interface ForwardResult {
  loss_fn_output_type: 'scalar';
  loss_fn_outputs: { logprobs: FloatTensor; elementwise_loss: FloatTensor }[];
  metrics: Record<string, number>;
}

export interface ForwardPass {
  result: ForwardResult;
  /** Per datum: the mask as the loss used it (ones where none was sent). */
  weights: number[][];
  /** Per datum and token: the coefficient of ∇log π(target) in the ascent direction of the datum's loss terms. */
  gradients: number[][];
  /** A hash of everything that would shape the gradient. */
  gradientHash: number;
}

function tensor(data: number[]): FloatTensor {
  return { data, dtype: 'float32', shape: [data.length] };
}

function floatsHash(values: readonly number[] | undefined): number {
  return hashTokens((values ?? []).map((v) => Math.round(v * 1e6)));
}

function checkLengths(datum: WireDatum, index: number): { inputs: number[]; targets: number[] } {
  const inputs = datum.model_input.chunks.flatMap((chunk) => chunk.tokens ?? []);
  const targets = datum.loss_fn_inputs.target_tokens?.data;
  if (!targets) throw new FutureFailure(`datum ${index}: loss_fn_inputs.target_tokens is required`);
  if (targets.length !== inputs.length) {
    throw new FutureFailure(
      `datum ${index}: target_tokens has ${targets.length} entries for ${inputs.length} input tokens`,
    );
  }
  return { inputs, targets };
}

export function forwardPass(
  weightsVersion: number,
  data: readonly WireDatum[],
  lossFn: LossFn,
  config: LossConfig,
  withLossSum: boolean,
): ForwardPass {
  let gradientHash = mixInts(hashString(lossFn), data.length);
  let lossSum = 0;
  const weights: number[][] = [];
  const gradients: number[][] = [];
  const outputs = data.map((datum, index) => {
    const { inputs, targets } = checkLengths(datum, index);
    const inputsOf = datum.loss_fn_inputs;
    const mask = inputsOf.weights?.data ?? targets.map(() => 1);
    const logprobs = targetLogprobs(weightsVersion, targets);
    const lossInputs = {
      logprobs,
      weights: mask,
      samplingLogprobs: inputsOf.logprobs?.data,
      advantages: inputsOf.advantages?.data,
    };
    const loss = elementwiseLoss(lossFn, lossInputs, config);
    weights.push(mask);
    gradients.push(logprobGradients(lossFn, lossInputs, config));
    lossSum += loss.reduce((a, b) => a + b, 0);
    gradientHash = mixInts(
      gradientHash,
      hashTokens(inputs),
      hashTokens(targets),
      floatsHash(mask),
      floatsHash(inputsOf.advantages?.data),
    );
    return { logprobs: tensor(logprobs), elementwise_loss: tensor(loss) };
  });
  const metrics: Record<string, number> = withLossSum ? { 'loss:sum': lossSum } : {};
  return {
    result: { loss_fn_output_type: 'scalar', loss_fn_outputs: outputs, metrics },
    weights,
    gradients,
    gradientHash,
  };
}
