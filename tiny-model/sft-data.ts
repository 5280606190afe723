import type { ForwardOutput } from '../engine/engine.js';
import { renderGenerationPrompt } from '../mel/chat.js';
import { datumNll, nllDatum, singleCallNllExample } from '../mel/datums.js';
import type { MelTokenizer } from '../mel/tokenizer.js';
import type { Datum } from '../mel/types.js';
import type { SftExample } from './curriculum.js';

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

/** Mean over datums of each datum's mean token NLL (SkyRL's cross_entropy reduction). */
export function meanNll(datums: readonly Datum[], output: ForwardOutput): number {
  const losses = datums.map((datum, i) => datumNll(datum, output.perDatum[i]?.logprobs ?? []).nll);
  return losses.reduce((sum, loss) => sum + loss, 0) / Math.max(1, losses.length);
}
