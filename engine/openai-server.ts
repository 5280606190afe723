/**
 * A small OpenAI-compatible server (`/v1/models`, `/v1/completions`, `/v1/chat/completions`) over any token-level
 * sampling engine and the model's tokenizer, e.g. SkyRL's Tinker server, which has no OpenAI routes of its own.
 * It speaks vLLM's extensions for exact token work: a prompt may be token ids, `stop_token_ids` ends a sample, and
 * `return_token_ids` / `return_tokens_as_token_ids` return the sampled ids verbatim.
 *
 * Run it over the configured engine with `npx tsx engine/openai-server.ts [--port 18124] [--host 127.0.0.1]`.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { resolveEndpoints } from '../common/env.js';
import { createPolicyEngine } from './config.js';
import { EngineError, type ChatCompletion, type SamplingEngine } from './engine.js';
import { loadModelTokenizer, type ModelTokenizer } from './model-files.js';
import { completionText } from '../mel/index.js';
import { TokenChatEngine } from './token-chat.js';

export interface OpenAIServerOptions {
  engine: SamplingEngine;
  tokenizer: ModelTokenizer;
  /** Listed by /v1/models; requests naming it (or no model) sample the engine's base model. */
  modelName: string;
  /** When set, requests must carry `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
}

export interface RunningOpenAIServer {
  /** Base URL for OpenAI clients, ending in /v1. */
  url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

const SamplingFields = z.object({
  model: z.string().optional(),
  n: z.number().int().positive().default(1),
  max_tokens: z.number().int().positive().nullish(),
  temperature: z.number().nonnegative().default(1),
  top_p: z.number().gt(0).max(1).default(1),
  seed: z.number().int().nullish(),
  stream: z.literal(false).nullish(),
  return_token_ids: z.boolean().nullish(),
});

const noStopStrings = z
  .union([z.string(), z.array(z.string())])
  .nullish()
  .refine((stop) => !stop || stop.length === 0, 'stop strings are not supported: use stop_token_ids');

const CompletionRequest = SamplingFields.extend({
  prompt: z.union([z.string(), z.array(z.number().int().nonnegative()).min(1)]),
  stop: noStopStrings,
  stop_token_ids: z.array(z.number().int().nonnegative()).nullish(),
  logprobs: z.number().int().nonnegative().nullish(),
  return_tokens_as_token_ids: z.boolean().nullish(),
});

const ChatRequest = SamplingFields.extend({
  messages: z.array(z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() })).min(1),
  max_completion_tokens: z.number().int().positive().nullish(),
  stop: noStopStrings,
  logprobs: z.boolean().nullish(),
});

const DEFAULT_MAX_TOKENS = 16;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
  ) {
    super(message);
  }
}

export async function startOpenAIServer(options: OpenAIServerOptions): Promise<RunningOpenAIServer> {
  const routes = createRoutes(options);
  const server = createServer((request, response) => {
    void handle(routes, options, request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/v1`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

type Route = (body: unknown) => Promise<object>;

function createRoutes({ engine, tokenizer, modelName }: OpenAIServerOptions): Record<string, Route> {
  const chatEngine = new TokenChatEngine(engine, tokenizer);
  const samplerFor = (model: string | undefined) => (model && model !== modelName ? model : undefined);

  return {
    'GET /v1/models': async () => ({
      object: 'list',
      data: [{ id: modelName, object: 'model', created: 0, owned_by: 'mel-temporal' }],
    }),

    'POST /v1/completions': async (body) => {
      const request = CompletionRequest.parse(body);
      const promptTokens =
        typeof request.prompt === 'string' ? tokenizer.encode(request.prompt) : request.prompt;
      const stopTokens = request.stop_token_ids ?? [];
      const sequences = await engine.sample({
        sampler: samplerFor(request.model),
        promptTokens,
        numSamples: request.n,
        maxTokens: request.max_tokens ?? DEFAULT_MAX_TOKENS,
        temperature: request.temperature,
        topP: request.top_p,
        seed: request.seed ?? undefined,
        stopTokens,
      });
      const tokenText = (id: number) =>
        request.return_tokens_as_token_ids ? `token_id:${id}` : tokenizer.decode([id]);
      const choices = sequences.map((sequence, index) => ({
        index,
        text: completionText(tokenizer, sequence.tokens, stopTokens),
        finish_reason: sequence.stopReason,
        logprobs:
          request.logprobs == null
            ? null
            : {
                tokens: sequence.tokens.map(tokenText),
                token_logprobs: sequence.logprobs,
                top_logprobs: null,
              },
        ...(request.return_token_ids ? { token_ids: sequence.tokens } : {}),
      }));
      const completionTokens = sumLengths(sequences.map((sequence) => sequence.tokens));
      return envelope(
        'cmpl',
        'text_completion',
        request.model ?? modelName,
        choices,
        promptTokens.length,
        completionTokens,
      );
    },

    'POST /v1/chat/completions': async (body) => {
      const request = ChatRequest.parse(body);
      const completions = await chatEngine.chat({
        model: samplerFor(request.model),
        messages: request.messages,
        numSamples: request.n,
        maxTokens: request.max_completion_tokens ?? request.max_tokens ?? DEFAULT_MAX_TOKENS,
        temperature: request.temperature,
        topP: request.top_p,
        seed: request.seed ?? undefined,
      });
      const choices = completions.map((completion, index) => ({
        index,
        message: { role: 'assistant', content: completion.text },
        finish_reason: completion.stopReason,
        logprobs: request.logprobs ? { content: chatLogprobs(tokenizer, completion) } : null,
        ...(request.return_token_ids ? { token_ids: completion.tokens } : {}),
      }));
      const completionTokens = sumLengths(completions.map((completion) => completion.tokens ?? []));
      return envelope(
        'chatcmpl',
        'chat.completion',
        request.model ?? modelName,
        choices,
        0,
        completionTokens,
      );
    },
  };
}

function envelope(
  idPrefix: string,
  object: string,
  model: string,
  choices: object[],
  promptTokens: number,
  completionTokens: number,
) {
  return {
    id: `${idPrefix}-${randomUUID()}`,
    object,
    created: Math.floor(Date.now() / 1000),
    model,
    choices,
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
  };
}

function sumLengths(lists: readonly (readonly number[])[]): number {
  return lists.reduce((sum, list) => sum + list.length, 0);
}

function chatLogprobs(tokenizer: ModelTokenizer, completion: ChatCompletion) {
  const logprobs = completion.logprobs ?? [];
  return (completion.tokens ?? []).map((id, position) => ({
    token: tokenizer.decode([id]),
    logprob: logprobs[position] ?? 0,
    bytes: null,
    top_logprobs: [],
  }));
}

async function handle(
  routes: Record<string, Route>,
  options: OpenAIServerOptions,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  try {
    const route = routes[`${request.method} ${new URL(request.url ?? '/', 'http://server').pathname}`];
    if (!route) throw new HttpError(404, `no route ${request.method} ${request.url}`, 'not_found_error');
    if (options.apiKey && request.headers.authorization !== `Bearer ${options.apiKey}`) {
      throw new HttpError(401, 'missing or wrong API key', 'authentication_error');
    }
    const body = request.method === 'POST' ? await readJson(request) : undefined;
    sendJson(response, 200, await route(body));
  } catch (error) {
    const { status, type, message } = describeFailure(error);
    sendJson(response, status, { error: { message, type, code: null, param: null } });
  }
}

function describeFailure(error: unknown): { status: number; type: string; message: string } {
  if (error instanceof HttpError) return { status: error.status, type: error.type, message: error.message };
  if (error instanceof z.ZodError) {
    const message = error.issues
      .map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`)
      .join('; ');
    return { status: 400, type: 'invalid_request_error', message };
  }
  if (error instanceof EngineError) {
    if (error.retryable) return { status: 503, type: 'engine_unavailable', message: error.message };
    const status =
      error.status !== undefined && error.status >= 400 && error.status < 500 ? error.status : 400;
    return { status, type: 'invalid_request_error', message: error.message };
  }
  return {
    status: 500,
    type: 'server_error',
    message: error instanceof Error ? error.message : String(error),
  };
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
}

function sendJson(response: ServerResponse, status: number, body: object): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '18124' }, host: { type: 'string', default: '127.0.0.1' } },
  });
  const endpoints = resolveEndpoints();
  const server = await startOpenAIServer({
    engine: createPolicyEngine(endpoints),
    tokenizer: await loadModelTokenizer(endpoints.baseModel),
    modelName: endpoints.baseModel,
    host: values.host,
    port: Number(values.port),
  });
  console.log(`OpenAI-compatible server over ${endpoints.engineUrl} at ${server.url}`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
