import type { SftExample } from '../mel/curriculum.js';
import {
  nllDatum,
  renderGenerationPrompt,
  singleCallNllExample,
  type Datum,
  type MelTokenizer,
} from '../mel/index.js';
import type { ForwardOutput } from '../engine/engine.js';

// SFT examples -> cross_entropy datums: the prompt is context (weight 0), the assistant reply and its
// closing <|im_end|> are the targets, weighted 1/|reply| so that each datum's loss is its mean token NLL.

export interface PromptAndCompletion {
  promptTokens: number[];
  completionTokens: number[];
}

export function tokenizeExample(
  example: SftExample,
  tokenizer: MelTokenizer,
  eosTokenId: number,
): PromptAndCompletion {
  return {
    promptTokens: tokenizer.encode(renderGenerationPrompt(example.messages)),
    completionTokens: [...tokenizer.encode(example.completion), eosTokenId],
  };
}

export function sftDatum({ promptTokens, completionTokens }: PromptAndCompletion): Datum {
  return nllDatum(singleCallNllExample(promptTokens, completionTokens), 1 / completionTokens.length);
}

/** Weighted mean NLL of one datum from the engine's target logprobs. */
export function datumNll(datum: Datum, logprobs: readonly number[]): number {
  const weights = datum.loss_fn_inputs.weights?.data ?? [];
  let loss = 0;
  let weightSum = 0;
  weights.forEach((weight, i) => {
    loss -= weight * (logprobs[i] ?? 0);
    weightSum += weight;
  });
  return weightSum === 0 ? 0 : loss / weightSum;
}

/** Mean over datums of each datum's mean token NLL (SkyRL's cross_entropy reduction). */
export function meanNll(datums: readonly Datum[], output: ForwardOutput): number {
  const losses = datums.map((datum, i) => datumNll(datum, output.perDatum[i]?.logprobs ?? []));
  return losses.reduce((sum, loss) => sum + loss, 0) / Math.max(1, losses.length);
}
