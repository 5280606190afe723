import { hashString, seededRandom } from '../mel/random.js';
import { generateCompletion, type GenerationContext } from './generate.js';
import { hashTokens, mixInts } from './hash.js';
import { sampledLogprobs } from './logprobs.js';
import { classifyPrompt } from './prompt-kind.js';

// One asample request -> its sequences, deterministic in (double seed, weights, request seed, prompt, index).

export interface TextCodec {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
}

export interface SampleInput {
  promptTokens: readonly number[];
  numSamples: number;
  maxTokens: number;
  temperature: number;
  seed: number;
  /** Ids that end a sample; the first is appended as the last token. Empty: run to max_tokens (SkyRL). */
  stopTokens: readonly number[];
}

export interface WireSequence {
  stop_reason: 'stop' | 'length';
  tokens: number[];
  logprobs: number[] | null;
}

export interface SamplerDeps {
  seed: number;
  codec: TextCodec;
  generation: GenerationContext;
}

const RUN_ON = '\nI keep going without a stop token.';

function completionTokens(
  deps: SamplerDeps,
  input: SampleInput,
  text: string,
  truncateTo?: number,
): { tokens: number[]; stop: boolean } {
  const tokens = deps.codec.encode(text);
  if (truncateTo !== undefined) {
    return { tokens: tokens.slice(0, Math.max(1, Math.floor(tokens.length * truncateTo))), stop: false };
  }
  const [stopToken] = input.stopTokens;
  if (stopToken !== undefined) return { tokens: [...tokens, stopToken], stop: true };
  const runOn = deps.codec.encode(RUN_ON);
  while (tokens.length < input.maxTokens && runOn.length > 0) tokens.push(...runOn);
  return { tokens, stop: false };
}

function sequenceSeed(deps: SamplerDeps, input: SampleInput, weightsVersion: number, index: number): number {
  // Temperature 0 is greedy: every sample of the request is the same.
  const sample = input.temperature === 0 ? 0 : index;
  const temperature = hashString(String(input.temperature));
  return mixInts(deps.seed, weightsVersion, input.seed, hashTokens(input.promptTokens), temperature, sample);
}

export function sampleSequences(
  deps: SamplerDeps,
  input: SampleInput,
  weightsVersion: number,
): WireSequence[] {
  const prompt = classifyPrompt(deps.codec.decode(input.promptTokens));
  return Array.from({ length: input.numSamples }, (_, index) => {
    const random = seededRandom(sequenceSeed(deps, input, weightsVersion, index));
    const completion = generateCompletion(random, prompt, deps.generation);
    const { tokens, stop } = completionTokens(deps, input, completion.text, completion.truncateTo);
    const capped = tokens.length > input.maxTokens;
    const kept = capped ? tokens.slice(0, input.maxTokens) : tokens;
    return {
      stop_reason: stop && !capped ? 'stop' : 'length',
      tokens: kept,
      logprobs: sampledLogprobs(weightsVersion, input.promptTokens.length, kept),
    };
  });
}
