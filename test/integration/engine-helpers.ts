import { afterAll } from 'vitest';
import type { Datum } from '../../engine/engine.js';
import { loadModelTokenizer, type ModelTokenizer } from '../../engine/model-files.js';
import { TinkerClient } from '../../engine/tinker.js';
import { renderGenerationPrompt } from '../../mel/index.js';
import { endpoints } from './support.js';

// Shared by the engine-*.test.ts files. One prompt and one sampling shape throughout: SkyRL's JAX backend compiles
// once per shape, and a 2-core machine pays seconds per compile.

export const GROUP_SIZE = 4;
export const MAX_TOKENS = 8;
export const LORA_RANK = 4;

export const baseModel = endpoints.baseModel;

export function tinkerClient(engineUrl = endpoints.engineUrl): TinkerClient {
  return new TinkerClient({ baseUrl: engineUrl, baseModel, maxRetries: 2 });
}

export async function tinyTokenizer(): Promise<ModelTokenizer> {
  return loadModelTokenizer(baseModel);
}

/** A group of G samples of the test prompt at temperature 1, stopping at the end-of-turn token. */
export function groupRequest(tokenizer: ModelTokenizer, seed: number) {
  return {
    promptTokens: promptTokens(tokenizer),
    numSamples: GROUP_SIZE,
    maxTokens: MAX_TOKENS,
    temperature: 1,
    seed,
    stopTokens: [tokenizer.eosTokenId],
  };
}

export function promptTokens(tokenizer: ModelTokenizer): number[] {
  return tokenizer.encode(renderGenerationPrompt([{ role: 'user', content: 'What is 2 + 3?' }]));
}

/** Creates LoRA models on the engine and unloads them after the file's tests (the server has few adapter slots). */
export function modelFactory(engine: TinkerClient) {
  const created: string[] = [];
  afterAll(async () => {
    await Promise.allSettled(created.map((modelId) => engine.unloadModel(modelId)));
  });
  return async (seed: number): Promise<string> => {
    const modelId = await engine.createTrainingModel({ baseModel, rank: LORA_RANK, seed });
    created.push(modelId);
    return modelId;
  };
}

export interface CompletionDatumInputs {
  prompt: readonly number[];
  completion: readonly number[];
  /** Per completion token; the RL losses need both. */
  samplerLogprobs?: readonly number[];
  advantage?: number;
}

/** Pre-shifted datum that trains on the completion tokens only (weight 0 on the prompt). */
export function completionDatum({
  prompt,
  completion,
  samplerLogprobs,
  advantage,
}: CompletionDatumInputs): Datum {
  const full = [...prompt, ...completion];
  const onCompletion = (value: (i: number) => number) =>
    full.slice(1).map((_, i) => (i + 1 >= prompt.length ? value(i + 1 - prompt.length) : 0));
  return {
    model_input: { chunks: [{ type: 'encoded_text', tokens: full.slice(0, -1) }] },
    loss_fn_inputs: {
      target_tokens: { data: full.slice(1), dtype: 'int64' },
      weights: { data: onCompletion(() => 1), dtype: 'float32' },
      ...(samplerLogprobs
        ? { logprobs: { data: onCompletion((i) => samplerLogprobs[i]!), dtype: 'float32' } }
        : {}),
      ...(advantage !== undefined
        ? { advantages: { data: onCompletion(() => advantage), dtype: 'float32' } }
        : {}),
    },
  };
}

/** The model's log-probabilities of the completion tokens of a `completionDatum`. */
export async function completionLogprobs(
  engine: TinkerClient,
  modelId: string,
  datum: Datum,
): Promise<number[]> {
  const output = await engine.forward({ modelId, data: [datum] });
  const weights = datum.loss_fn_inputs.weights!.data;
  return output.perDatum[0]!.logprobs.filter((_, i) => weights[i] !== 0);
}

export function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
