import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EngineError,
  type SampledSequence,
  type SampleRequest,
  type SamplingEngine,
} from '../../../engine/engine.js';
import { loadModelTokenizer, type ModelTokenizer } from '../../../engine/model-files.js';
import { OpenAICompatibleClient } from '../../../engine/openai-compatible.js';
import { startOpenAIServer, type RunningOpenAIServer } from '../../../engine/openai-server.js';

const TOKENIZER_DIR = new URL('../../fixtures/mel/tiny-tokenizer/', import.meta.url).pathname;

/** Answers with fixed sequences, or fails as told; records requests. */
class ScriptedEngine implements SamplingEngine {
  readonly requests: SampleRequest[] = [];
  failure: EngineError | undefined;
  constructor(private readonly sequences: SampledSequence[]) {}

  async sample(request: SampleRequest): Promise<SampledSequence[]> {
    this.requests.push(request);
    if (this.failure) throw this.failure;
    return this.sequences.slice(0, request.numSamples);
  }
}

describe('OpenAI-compatible server', () => {
  let tokenizer: ModelTokenizer;
  let engine: ScriptedEngine;
  let server: RunningOpenAIServer;
  let stopped: SampledSequence;

  beforeAll(async () => {
    tokenizer = await loadModelTokenizer(TOKENIZER_DIR);
    stopped = {
      stopReason: 'stop',
      tokens: [...tokenizer.encode('4 + 4 = 8'), tokenizer.eosTokenId],
      logprobs: [],
    };
    stopped.logprobs = stopped.tokens.map((_, i) => -0.1 * (i + 1));
    engine = new ScriptedEngine([stopped]);
    server = await startOpenAIServer({ engine, tokenizer, modelName: 'tiny' });
  });
  afterAll(async () => {
    await server.close();
  });

  const post = (route: string, body: string) =>
    fetch(`${server.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('tokenizes a text prompt and returns text without the stop token, ids and "token_id:" tokens', async () => {
    const response = await post(
      '/completions',
      JSON.stringify({
        model: 'tiny',
        prompt: '4 + 4 =',
        max_tokens: 8,
        stop_token_ids: [tokenizer.eosTokenId],
        logprobs: 0,
        return_token_ids: true,
        return_tokens_as_token_ids: true,
      }),
    );
    const body = (await response.json()) as {
      choices: { text: string; token_ids: number[]; logprobs: { tokens: string[] } }[];
    };
    expect(engine.requests.at(-1)).toMatchObject({
      sampler: undefined,
      promptTokens: tokenizer.encode('4 + 4 ='),
      maxTokens: 8,
    });
    expect(body.choices[0]!.text).toBe('4 + 4 = 8');
    expect(body.choices[0]!.token_ids).toEqual(stopped.tokens);
    expect(body.choices[0]!.logprobs.tokens).toEqual(stopped.tokens.map((id) => `token_id:${id}`));
  });

  it.each([
    ['stop strings', '/completions', JSON.stringify({ prompt: [1], stop: ['\n'] }), 400, 'stop_token_ids'],
    ['a body that is not JSON', '/completions', '{"prompt": [1', 400, 'not valid JSON'],
    ['no messages', '/chat/completions', JSON.stringify({ messages: [] }), 400, 'messages'],
    ['an unknown route', '/embeddings', '{}', 404, 'no route'],
  ])('answers %s with an OpenAI-style error', async (_case, route, body, status, message) => {
    const response = await post(route, body);
    expect(response.status).toBe(status);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain(message);
  });

  it('passes engine failures on as 503 (retryable) or 4xx (not), which the client maps back', async () => {
    const client = new OpenAICompatibleClient({ baseUrl: server.url, model: 'tiny', maxRetries: 0 });
    const request = { messages: [{ role: 'user' as const, content: 'hi' }], numSamples: 1, maxTokens: 4 };
    engine.failure = new EngineError('engine restarting', { retryable: true });
    await expect(client.chat(request)).rejects.toMatchObject({ status: 503, retryable: true });
    engine.failure = new EngineError('Model not found', { retryable: false, status: 404 });
    await expect(client.chat(request)).rejects.toMatchObject({ status: 404, retryable: false });
    engine.failure = undefined;
  });
});
