import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SampledSequence, SampleRequest, SamplingEngine } from '../../engine/engine.js';
import type { ModelTokenizer } from '../../engine/model-files.js';
import { OpenAICompatibleClient } from '../../engine/openai-compatible.js';
import { startOpenAIServer, type RunningOpenAIServer } from '../../engine/openai-server.js';
import { renderGenerationPrompt } from '../../mel/index.js';
import {
  GROUP_SIZE,
  MAX_TOKENS,
  baseModel,
  groupRequest,
  tinkerClient,
  tinyTokenizer,
} from './engine-helpers.js';

const API_KEY = 'test-key-for-this-server';

/** The real SkyRL engine, remembering what it returned so the test can compare what reached the client. */
class RecordingEngine implements SamplingEngine {
  readonly requests: SampleRequest[] = [];
  readonly returned: SampledSequence[][] = [];
  private readonly engine = tinkerClient();

  async sample(request: SampleRequest): Promise<SampledSequence[]> {
    this.requests.push(request);
    const sequences = await this.engine.sample(request);
    this.returned.push(sequences);
    return sequences;
  }
}

describe('OpenAI-compatible client against the project server over SkyRL', () => {
  let tokenizer: ModelTokenizer;
  let engine: RecordingEngine;
  let server: RunningOpenAIServer;
  let client: OpenAICompatibleClient;

  beforeAll(async () => {
    tokenizer = await tinyTokenizer();
    engine = new RecordingEngine();
    server = await startOpenAIServer({ engine, tokenizer, modelName: baseModel, apiKey: API_KEY });
    client = new OpenAICompatibleClient({
      baseUrl: server.url,
      model: baseModel,
      apiKey: API_KEY,
      maxRetries: 0,
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('lists the served model', async () => {
    const description = await client.describe();
    expect(description.servedModels).toEqual([baseModel]);
    expect(description.configuredModel).toBe(baseModel);
  });

  it('samples n completions from token ids and returns the sampled token ids and logprobs verbatim', async () => {
    const sequences = await client.sample(groupRequest(tokenizer, 21));
    expect(sequences).toHaveLength(GROUP_SIZE);
    expect(sequences).toEqual(engine.returned.at(-1));
    for (const sequence of sequences) expect(sequence.logprobs).toHaveLength(sequence.tokens.length);
  });

  it('answers chat in the model chat format with the decoded completion, without the end-of-turn token', async () => {
    const chatClient = new OpenAICompatibleClient({
      baseUrl: server.url,
      model: baseModel,
      apiKey: API_KEY,
      maxRetries: 0,
      chatLogprobs: true,
    });
    const messages = [{ role: 'user' as const, content: 'What is 2 + 3?' }];
    const answers = await chatClient.chat({ messages, numSamples: 2, maxTokens: MAX_TOKENS, seed: 5 });

    expect(engine.requests.at(-1)).toMatchObject({
      promptTokens: tokenizer.encode(renderGenerationPrompt(messages)),
      stopTokens: [tokenizer.eosTokenId],
    });
    const sampled = engine.returned.at(-1)!;
    expect(answers).toHaveLength(2);
    answers.forEach((answer, i) => {
      const tokens = sampled[i]!.tokens;
      const content = tokens.at(-1) === tokenizer.eosTokenId ? tokens.slice(0, -1) : tokens;
      expect(answer.text).toBe(tokenizer.decode(content));
      expect(answer.logprobs).toEqual(sampled[i]!.logprobs);
      expect(answer.stopReason).toBe(sampled[i]!.stopReason);
    });
  });

  it('refuses a wrong API key with a non-retryable 401', async () => {
    const intruder = new OpenAICompatibleClient({
      baseUrl: server.url,
      model: baseModel,
      apiKey: 'wrong',
      maxRetries: 0,
    });
    await expect(intruder.describe()).rejects.toMatchObject({
      name: 'EngineError',
      status: 401,
      retryable: false,
    });
  });

  it('an unknown sampler path is a non-retryable error carrying the engine message', async () => {
    const request = {
      sampler: 'tinker://model_missing/sampler_weights/x',
      promptTokens: [1, 2],
      numSamples: 1,
      maxTokens: MAX_TOKENS,
    };
    await expect(client.sample(request)).rejects.toMatchObject({
      name: 'EngineError',
      status: 404,
      retryable: false,
      message: expect.stringContaining('Model not found'),
    });
  });
});
