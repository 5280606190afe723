/**
 * Engine over an OpenAI-compatible HTTP API (vLLM, SGLang, Ollama, OpenAI, hosted Tinker's OpenAI endpoint, or this
 * project's own `openai-server.ts` over SkyRL): samples and answers reflection prompts; never trains.
 */
import OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { CompletionCreateParamsNonStreaming } from 'openai/resources/completions';
import { z } from 'zod';
import {
  EngineError,
  type ChatCompletion,
  type ChatRequest,
  type DescribableEngine,
  type EngineDescription,
  type ReflectionEngine,
  type SampledSequence,
  type SampleRequest,
  type SamplingEngine,
} from './engine.js';
import { currentCallScope } from '../common/call-scope.js';
import { isRetryableStatus } from './errors.js';

export interface OpenAICompatibleOptions {
  /** Up to and including the version prefix, e.g. http://127.0.0.1:8000/v1. */
  baseUrl: string;
  model: string;
  /** Sent as a bearer token. Never logged. Servers without auth (vLLM, Ollama) accept any value. */
  apiKey?: string;
  timeoutMs?: number;
  /** Retries of the `openai` package itself (408/409/429/5xx, connection errors), with backoff. */
  maxRetries?: number;
  /** Ask chat calls for token logprobs (OpenAI, vLLM and SGLang answer; some servers reject the parameter). */
  chatLogprobs?: boolean;
}

/**
 * vLLM's extensions for token-level sampling, also honoured by `openai-server.ts`: the prompt is sent as token ids and
 * the sampled ids come back verbatim, so nothing is re-encoded from text.
 */
interface TokenSamplingExtras {
  stop_token_ids?: number[];
  return_token_ids: true;
  return_tokens_as_token_ids: true;
}

const finishReason = z
  .string()
  .nullish()
  .transform((reason): 'stop' | 'length' => (reason === 'length' ? 'length' : 'stop'));

const tokenIds = z.array(z.number().int()).nullish();

const CompletionSchema = z.object({
  choices: z.array(
    z.object({
      index: z.number().int(),
      finish_reason: finishReason,
      token_ids: tokenIds,
      logprobs: z
        .object({
          tokens: z.array(z.string()).nullish(),
          token_logprobs: z.array(z.number().nullable()).nullish(),
        })
        .nullish(),
    }),
  ),
});

const ChatCompletionSchema = z.object({
  choices: z.array(
    z.object({
      index: z.number().int(),
      finish_reason: finishReason,
      message: z.object({ content: z.string().nullish() }),
      token_ids: tokenIds,
      logprobs: z.object({ content: z.array(z.object({ logprob: z.number() })).nullish() }).nullish(),
    }),
  ),
});

export class OpenAICompatibleClient implements SamplingEngine, ReflectionEngine, DescribableEngine {
  private readonly client: OpenAI;

  constructor(private readonly options: OpenAICompatibleOptions) {
    this.client = new OpenAI({
      baseURL: options.baseUrl,
      // The package refuses to start without a key; keyless servers ignore this placeholder.
      apiKey: options.apiKey ?? 'not-needed',
      timeout: options.timeoutMs ?? 120_000,
      maxRetries: options.maxRetries ?? 2,
    });
  }

  get name(): string {
    return `${this.options.model ?? 'default model'} at ${this.options.baseUrl}`;
  }

  async describe(): Promise<EngineDescription> {
    const models = await this.request('GET /models', async () => {
      const ids: string[] = [];
      for await (const model of this.client.models.list()) ids.push(model.id);
      return ids;
    });
    return {
      kind: 'openai-compatible',
      baseUrl: this.options.baseUrl,
      configuredModel: this.options.model,
      servedModels: models,
      supports: { training: false, losses: [], tokenSampling: true, chat: true },
    };
  }

  /** Token ids in, token ids and logprobs out (/completions); needs a server that returns sampled token ids. */
  async sample(request: SampleRequest): Promise<SampledSequence[]> {
    const params: CompletionCreateParamsNonStreaming & TokenSamplingExtras = {
      model: request.sampler ?? this.options.model,
      prompt: [...request.promptTokens],
      n: request.numSamples,
      max_tokens: request.maxTokens,
      temperature: request.temperature ?? 1,
      top_p: request.topP ?? 1,
      seed: request.seed,
      logprobs: 0,
      stop_token_ids: request.stopTokens ? [...request.stopTokens] : undefined,
      return_token_ids: true,
      return_tokens_as_token_ids: true,
    };
    const raw = await this.request('POST /completions', (options) =>
      this.client.completions.create(params, options),
    );
    const completion = parseAnswer(CompletionSchema, raw, 'POST /completions');
    return byIndex(completion.choices).map((choice) => {
      const tokens = choice.token_ids ?? choice.logprobs?.tokens?.map(parseTokenIdString);
      const logprobs = choice.logprobs?.token_logprobs;
      if (
        !tokens ||
        tokens.some((id) => id === undefined) ||
        !logprobs ||
        logprobs.length !== tokens.length
      ) {
        throw new EngineError(
          `${this.options.baseUrl} returned no sampled token ids with logprobs; policy sampling needs a server that ` +
            'does (vLLM, or the Tinker engine), because ids re-encoded from text may differ from the sampled ones',
          { retryable: false },
        );
      }
      return {
        stopReason: choice.finish_reason,
        tokens: tokens as number[],
        logprobs: logprobs.map((lp) => lp ?? 0),
      };
    });
  }

  async chat(request: ChatRequest): Promise<ChatCompletion[]> {
    const params: ChatCompletionCreateParamsNonStreaming = {
      model: request.model ?? this.options.model,
      messages: request.messages.map((message) => ({ role: message.role, content: message.content })),
      n: request.numSamples,
      max_tokens: request.maxTokens,
      temperature: request.temperature ?? 1,
      top_p: request.topP ?? 1,
      seed: request.seed,
      ...(this.options.chatLogprobs ? { logprobs: true } : {}),
    };
    const raw = await this.request('POST /chat/completions', (options) =>
      this.client.chat.completions.create(params, options),
    );
    const completion = parseAnswer(ChatCompletionSchema, raw, 'POST /chat/completions');
    return byIndex(completion.choices).map((choice) => ({
      stopReason: choice.finish_reason,
      text: choice.message.content ?? '',
      ...(choice.token_ids ? { tokens: choice.token_ids } : {}),
      ...(choice.logprobs?.content
        ? { logprobs: choice.logprobs.content.map((entry) => entry.logprob) }
        : {}),
    }));
  }

  /** Inside a call scope (an activity attempt) the answer is progress, and the scope's signal aborts the request. */
  private async request<T>(
    operation: string,
    send: (options: { signal?: AbortSignal }) => Promise<T>,
  ): Promise<T> {
    const scope = currentCallScope();
    try {
      const answer = await send({ signal: scope?.signal });
      scope?.progressed(`engine ${operation}`);
      return answer;
    } catch (error) {
      scope?.signal.throwIfAborted();
      throw toEngineError(error, `${operation} on ${this.options.baseUrl}`);
    }
  }
}

/** Maps what the `openai` package throws onto EngineError, deciding what a retry could fix. */
export function toEngineError(error: unknown, where: string): EngineError {
  if (error instanceof EngineError) return error;
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new EngineError(`${where} timed out`, { retryable: true, cause: error });
  }
  if (error instanceof OpenAI.APIUserAbortError) {
    return new EngineError(`${where} was aborted`, { retryable: false, cause: error });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new EngineError(`${where} could not connect: ${error.message}`, { retryable: true, cause: error });
  }
  if (error instanceof OpenAI.APIError && error.status !== undefined) {
    return new EngineError(`${where} answered ${error.status}${statusHint(error.status)}: ${error.message}`, {
      retryable: isRetryableStatus(error.status),
      status: error.status,
      cause: error,
    });
  }
  if (error instanceof SyntaxError) {
    return new EngineError(`${where} returned malformed JSON: ${error.message}`, {
      retryable: true,
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new EngineError(`${where} failed: ${message}`, { retryable: false, cause: error });
}

function statusHint(status: number): string {
  if (status === 401 || status === 403) return ' (the API key is missing or not accepted)';
  if (status === 404) return ' (unknown model or route: check the base URL and model name)';
  if (status === 429) return ' (rate limited)';
  return '';
}

function parseAnswer<T>(schema: z.ZodType<T>, raw: unknown, where: string): T {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const shown = typeof raw === 'string' ? raw.slice(0, 200) : JSON.stringify(raw)?.slice(0, 200);
  throw new EngineError(`${where} returned an answer that is not a completion: ${shown}`, {
    retryable: true,
  });
}

function byIndex<T extends { index: number }>(choices: T[]): T[] {
  return [...choices].sort((a, b) => a.index - b.index);
}

/** vLLM's `return_tokens_as_token_ids` spells each token as "token_id:<id>". */
function parseTokenIdString(token: string): number | undefined {
  const match = /^token_id:(\d+)$/.exec(token);
  return match ? Number(match[1]) : undefined;
}
