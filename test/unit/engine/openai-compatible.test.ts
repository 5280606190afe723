import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../../engine/engine.js';
import { OpenAICompatibleClient } from '../../../engine/openai-compatible.js';
import { json, startFakeServer, type RecordedRequest } from './fake-http.js';

const API_KEY = 'sk-secret-value-123';
const calls = new Map<string, number>();

function completion(choice: object) {
  return {
    id: 'cmpl-1',
    object: 'text_completion',
    created: 0,
    model: 'm',
    choices: [{ index: 0, ...choice }],
  };
}

/** The model name picks how the fake server misbehaves. */
function answer(request: RecordedRequest, response: ServerResponse): void {
  const model = (request.body as { model?: string } | undefined)?.model ?? '';
  calls.set(model, (calls.get(model) ?? 0) + 1);
  switch (model) {
    case 'unauthorized':
      return json(response, 401, {
        error: { message: 'Incorrect API key provided', type: 'invalid_request_error' },
      });
    case 'rate-limited':
      return json(response, 429, { error: { message: 'Rate limit reached' } });
    case 'server-error':
      return json(response, 500, { error: { message: 'internal failure' } });
    case 'bad-request':
      return json(response, 400, { error: { message: 'max_tokens is too large' } });
    case 'malformed-json':
      response.writeHead(200, { 'content-type': 'application/json' });
      return void response.end('{"choices": [');
    case 'html':
      response.writeHead(200, { 'content-type': 'text/html' });
      return void response.end('<html>bad gateway</html>');
    case 'never-answers':
      return;
    case 'no-token-ids':
      return json(response, 200, completion({ text: 'hi', finish_reason: 'stop', logprobs: null }));
    case 'flaky':
      if (calls.get(model) === 1) {
        response.writeHead(503, { 'content-type': 'application/json', 'retry-after-ms': '10' });
        return void response.end(JSON.stringify({ error: { message: 'overloaded' } }));
      }
      return json(
        response,
        200,
        completion({
          text: 'ok',
          finish_reason: 'length',
          token_ids: [7, 8],
          logprobs: { tokens: ['a', 'b'], token_logprobs: [-0.5, -1.5] },
        }),
      );
    default:
      // vLLM with return_tokens_as_token_ids and without token_ids
      return json(
        response,
        200,
        completion({
          text: 'x',
          finish_reason: 'stop',
          logprobs: { tokens: ['token_id:5', 'token_id:2'], token_logprobs: [-0.25, -0.75] },
        }),
      );
  }
}

describe('OpenAI-compatible client', () => {
  let server: Awaited<ReturnType<typeof startFakeServer>>;
  const client = (model: string, options: { maxRetries?: number; timeoutMs?: number } = {}) =>
    new OpenAICompatibleClient({
      baseUrl: `${server.url}/v1`,
      model,
      apiKey: API_KEY,
      maxRetries: 0,
      ...options,
    });
  const sampleRequest = {
    promptTokens: [1, 2, 3],
    numSamples: 1,
    maxTokens: 4,
    temperature: 0.7,
    seed: 3,
    stopTokens: [2],
  };
  const chatRequest = { messages: [{ role: 'user' as const, content: 'hi' }], numSamples: 1, maxTokens: 4 };

  beforeAll(async () => {
    server = await startFakeServer(answer);
  });
  afterAll(async () => {
    await server.close();
  });

  it('sends token ids with vLLM extensions and reads back "token_id:<id>" tokens and their logprobs', async () => {
    const sequences = await client('vllm').sample(sampleRequest);
    expect(sequences).toEqual([{ stopReason: 'stop', tokens: [5, 2], logprobs: [-0.25, -0.75] }]);
    expect(server.requests.at(-1)!.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(server.requests.at(-1)!.body).toMatchObject({
      model: 'vllm',
      prompt: [1, 2, 3],
      n: 1,
      max_tokens: 4,
      temperature: 0.7,
      seed: 3,
      stop_token_ids: [2],
      return_token_ids: true,
      return_tokens_as_token_ids: true,
    });
  });

  it('refuses to sample for training from a server that returns no token ids', async () => {
    await expect(client('no-token-ids').sample(sampleRequest)).rejects.toMatchObject({
      retryable: false,
      message: expect.stringContaining('no sampled token ids'),
    });
  });

  it.each([
    ['unauthorized', 401, false],
    ['bad-request', 400, false],
    ['rate-limited', 429, true],
    ['server-error', 500, true],
  ])('maps an HTTP error from model %s to status %i, retryable %s', async (model, status, retryable) => {
    const error = await client(model)
      .chat(chatRequest)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EngineError);
    expect(error).toMatchObject({ status, retryable });
    expect((error as Error).message).toContain(String(status));
    expect((error as Error).message).not.toContain(API_KEY);
  });

  it('maps malformed JSON and a non-completion answer to retryable errors', async () => {
    await expect(client('malformed-json').chat(chatRequest)).rejects.toMatchObject({
      retryable: true,
      message: expect.stringContaining('malformed JSON'),
    });
    await expect(client('html').chat(chatRequest)).rejects.toMatchObject({
      retryable: true,
      message: expect.stringContaining('not a completion'),
    });
  });

  it('maps a server that never answers to a retryable timeout', async () => {
    await expect(client('never-answers', { timeoutMs: 300 }).chat(chatRequest)).rejects.toMatchObject({
      retryable: true,
      message: expect.stringContaining('timed out'),
    });
  });

  it('maps a refused connection to a retryable error', async () => {
    const nowhere = new OpenAICompatibleClient({
      baseUrl: 'http://127.0.0.1:1/v1',
      model: 'm',
      maxRetries: 0,
    });
    await expect(nowhere.describe()).rejects.toMatchObject({
      retryable: true,
      message: expect.stringContaining('connect'),
    });
  });

  it('retries a 503 with backoff and then succeeds', async () => {
    const sequences = await client('flaky', { maxRetries: 1 }).sample(sampleRequest);
    expect(sequences).toEqual([{ stopReason: 'length', tokens: [7, 8], logprobs: [-0.5, -1.5] }]);
    expect(calls.get('flaky')).toBe(2);
  });
});
