import { mixInts } from './hash.js';

// The double's "model": the log-probability of a token is a hash of (weights version, token id, index of the token
// in the full sequence) mapped into [-6, -0.01). The sampler and forward passes use the same function, so forward
// logprobs of sampled tokens equal the sampler's while the weights are unchanged (an importance ratio of 1).

const MIN_NLL = 0.01;
const MAX_NLL = 6;

export function tokenLogprob(weightsVersion: number, token: number, indexInSequence: number): number {
  const unit = mixInts(weightsVersion, token, indexInSequence) / 2 ** 32;
  // Squared: most tokens are likely, a few are not, as with a trained model.
  return -(MIN_NLL + (MAX_NLL - MIN_NLL) * unit * unit);
}

/** Logprobs of sampled tokens that follow a prompt of `promptLength` tokens. */
export function sampledLogprobs(
  weightsVersion: number,
  promptLength: number,
  tokens: readonly number[],
): number[] {
  return tokens.map((token, j) => tokenLogprob(weightsVersion, token, promptLength + j));
}

/** Forward logprobs of a pre-shifted datum: input position i predicts target i, the token at index i + 1. */
export function targetLogprobs(weightsVersion: number, targets: readonly number[]): number[] {
  return targets.map((token, i) => tokenLogprob(weightsVersion, token, i + 1));
}
