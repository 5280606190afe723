/**
 * Client for the Tinker training/sampling REST API (JSON wire format), as served by hosted Tinker and by SkyRL's
 * open-source server. Every compute call returns a future that is long-polled through `retrieve_future`.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface TinkerClientOptions {
  baseUrl: string;
  /** Sent as X-API-Key. Never logged. SkyRL ignores it; hosted Tinker requires a `tml-` key. */
  apiKey?: string;
  /** Per HTTP request; the long-poll uses `pollTimeoutMs` instead. */
  requestTimeoutMs?: number;
  /** Client-side hold on one retrieve_future call; below SkyRL's 300 s server hold so we re-poll, not hang. */
  pollTimeoutMs?: number;
  /** Overall limit for one future to resolve. */
  futureTimeoutMs?: number;
  maxRetries?: number;
  retryBaseDelayMs?: number;
}

/** Raised for answers that will not change on retry (bad request, unknown model, failed computation). */
export class TinkerRequestError extends Error {
  override name = 'TinkerRequestError';
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export interface ModelInput {
  chunks: { type: 'encoded_text'; tokens: number[] }[];
}

export interface TensorData {
  data: number[];
  dtype: 'int64' | 'float32';
}

export interface Datum {
  model_input: ModelInput;
  loss_fn_inputs: Record<string, TensorData>;
}

export type LossFn = 'cross_entropy' | 'importance_sampling' | 'ppo' | 'cispo';

export interface SamplingParams {
  maxTokens: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  /** Token ids or strings. SkyRL has no implicit EOS stop: pass the end-of-turn id. */
  stop?: number[] | string[];
}

export type SampleSource = { modelPath: string } | { samplingSessionId: string } | { baseModel: string };

export interface SampledSequence {
  stopReason: 'stop' | 'length';
  tokens: number[];
  logprobs: number[];
}

export interface ForwardOutput {
  perDatum: { logprobs: number[]; elementwiseLoss: number[] }[];
  metrics: Record<string, number>;
}

export interface AdamParams {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

interface FutureHandle {
  request_id: string;
}

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

export class TinkerClient {
  private readonly baseUrl: string;
  private readonly options: Required<Omit<TinkerClientOptions, 'apiKey' | 'baseUrl'>>;

  constructor(private readonly config: TinkerClientOptions) {
    this.baseUrl = config.baseUrl.replace(/\/+$/, '');
    this.options = {
      requestTimeoutMs: config.requestTimeoutMs ?? 30_000,
      pollTimeoutMs: config.pollTimeoutMs ?? 60_000,
      futureTimeoutMs: config.futureTimeoutMs ?? 30 * 60_000,
      maxRetries: config.maxRetries ?? 5,
      retryBaseDelayMs: config.retryBaseDelayMs ?? 500,
    };
  }

  async healthy(): Promise<boolean> {
    try {
      const body = await this.call<{ status?: string }>('GET', '/healthz', undefined, { retries: 0 });
      return body.status === 'ok';
    } catch {
      return false;
    }
  }

  async supportedModels(): Promise<string[]> {
    const body = await this.call<{ supported_models?: { model_name: string }[] }>(
      'GET',
      '/get_server_capabilities',
    );
    return (body.supported_models ?? []).map((model) => model.model_name);
  }

  async createSession(tags: string[] = []): Promise<string> {
    const body = await this.call<{ session_id: string }>('POST', '/create_session', {
      tags,
      user_metadata: null,
      sdk_version: 'mel-temporal-ts',
      type: 'create_session',
    });
    return body.session_id;
  }

  async createLoraModel(args: {
    sessionId: string;
    baseModel: string;
    rank: number;
    seed?: number;
    modelSeqId?: number;
  }): Promise<string> {
    const future = await this.call<FutureHandle & { model_id: string }>('POST', '/create_model', {
      session_id: args.sessionId,
      model_seq_id: args.modelSeqId ?? 0,
      base_model: args.baseModel,
      lora_config: { rank: args.rank, seed: args.seed ?? 0, train_mlp: true, train_attn: true, train_unembed: false },
      user_metadata: null,
      type: 'create_model',
    });
    const result = await this.awaitFuture<{ model_id: string }>(future);
    return result.model_id;
  }

  async forwardBackward(args: {
    modelId: string;
    data: Datum[];
    lossFn: LossFn;
    lossFnConfig?: Record<string, number>;
    seqId?: number;
  }): Promise<ForwardOutput> {
    const future = await this.call<FutureHandle>('POST', '/forward_backward', {
      model_id: args.modelId,
      seq_id: args.seqId,
      forward_backward_input: { data: args.data, loss_fn: args.lossFn, loss_fn_config: args.lossFnConfig ?? null },
    });
    return toForwardOutput(await this.awaitFuture<RawForwardOutput>(future));
  }

  async forward(args: { modelId: string; data: Datum[]; lossFn: LossFn; seqId?: number }): Promise<ForwardOutput> {
    const future = await this.call<FutureHandle>('POST', '/forward', {
      model_id: args.modelId,
      seq_id: args.seqId,
      forward_input: { data: args.data, loss_fn: args.lossFn, loss_fn_config: null },
    });
    return toForwardOutput(await this.awaitFuture<RawForwardOutput>(future));
  }

  async optimStep(args: { modelId: string; adam: AdamParams; seqId?: number }): Promise<Record<string, number>> {
    const { adam } = args;
    const future = await this.call<FutureHandle>('POST', '/optim_step', {
      model_id: args.modelId,
      seq_id: args.seqId,
      adam_params: {
        learning_rate: adam.learningRate,
        beta1: adam.beta1 ?? 0.9,
        beta2: adam.beta2 ?? 0.95,
        eps: adam.eps ?? 1e-8,
        weight_decay: adam.weightDecay ?? 0,
      },
      type: 'optim_step',
    });
    const result = await this.awaitFuture<{ metrics?: Record<string, number> }>(future);
    return result.metrics ?? {};
  }

  /** Persists LoRA weights for sampling under `name` ([A-Za-z0-9_-]+) and returns their tinker:// path. */
  async saveWeightsForSampler(args: { modelId: string; name: string; seqId?: number }): Promise<string> {
    return this.savePath('/save_weights_for_sampler', args);
  }

  /** Persists the full training state (weights and optimizer) and returns its tinker:// path. */
  async saveState(args: { modelId: string; name: string; seqId?: number }): Promise<string> {
    return this.savePath('/save_weights', args);
  }

  async loadState(args: { modelId: string; path: string; withOptimizer: boolean; seqId?: number }): Promise<void> {
    const future = await this.call<FutureHandle>('POST', '/load_weights', {
      model_id: args.modelId,
      path: args.path,
      optimizer: args.withOptimizer,
      seq_id: args.seqId,
    });
    await this.awaitFuture(future);
  }

  async sample(args: {
    source: SampleSource;
    promptTokens: number[];
    numSamples: number;
    params: SamplingParams;
  }): Promise<SampledSequence[]> {
    const { params } = args;
    const future = await this.call<FutureHandle>('POST', '/asample', {
      ...sourceFields(args.source),
      prompt: { chunks: [{ type: 'encoded_text', tokens: args.promptTokens }] },
      num_samples: args.numSamples,
      sampling_params: {
        max_tokens: params.maxTokens,
        temperature: params.temperature ?? 1,
        top_p: params.topP ?? 1,
        top_k: params.topK ?? -1,
        seed: params.seed,
        stop: params.stop,
      },
      prompt_logprobs: false,
      topk_prompt_logprobs: 0,
    });
    const result = await this.awaitFuture<{
      sequences: { stop_reason: 'stop' | 'length'; tokens: number[]; logprobs: number[] | null }[];
    }>(future);
    return result.sequences.map((sequence) => ({
      stopReason: sequence.stop_reason,
      tokens: sequence.tokens,
      logprobs: sequence.logprobs ?? [],
    }));
  }

  private async savePath(route: string, args: { modelId: string; name: string; seqId?: number }): Promise<string> {
    if (!/^[A-Za-z0-9_-]+$/.test(args.name)) {
      throw new TinkerRequestError(`checkpoint name ${JSON.stringify(args.name)} must match [A-Za-z0-9_-]+`, undefined, false);
    }
    const future = await this.call<FutureHandle>('POST', route, {
      model_id: args.modelId,
      path: args.name,
      seq_id: args.seqId,
    });
    const result = await this.awaitFuture<{ path: string }>(future);
    return result.path;
  }

  /** Long-polls a future until it resolves, fails or runs out of time. */
  async awaitFuture<T>(future: FutureHandle): Promise<T> {
    const deadline = Date.now() + this.options.futureTimeoutMs;
    while (Date.now() < deadline) {
      const outcome = await this.pollOnce<T>(future.request_id);
      if (outcome.done) return outcome.value;
    }
    throw new TinkerRequestError(
      `future ${future.request_id} did not resolve within ${this.options.futureTimeoutMs} ms`,
      undefined,
      true,
    );
  }

  private async pollOnce<T>(requestId: string): Promise<{ done: true; value: T } | { done: false }> {
    try {
      const value = await this.call<T & { type?: string }>(
        'POST',
        '/retrieve_future',
        { request_id: requestId, allow_metadata_only: false },
        { timeoutMs: this.options.pollTimeoutMs, pendingOn408: true },
      );
      // Hosted Tinker may answer 200 with a "come back later" marker instead of holding the call.
      if (value && value.type === 'try_again') return { done: false };
      return { done: true, value };
    } catch (error) {
      if (error instanceof PendingSignal) return { done: false };
      throw error;
    }
  }

  private async call<T>(
    method: 'GET' | 'POST',
    route: string,
    body?: unknown,
    opts: { retries?: number; timeoutMs?: number; pendingOn408?: boolean } = {},
  ): Promise<T> {
    const retries = opts.retries ?? this.options.maxRetries;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.callOnce<T>(method, route, body, opts);
      } catch (error) {
        if (error instanceof PendingSignal) throw error;
        const retryable = !(error instanceof TinkerRequestError) || error.retryable;
        if (!retryable || attempt >= retries) throw error;
        await sleep(this.options.retryBaseDelayMs * 2 ** attempt);
      }
    }
  }

  private async callOnce<T>(
    method: 'GET' | 'POST',
    route: string,
    body: unknown,
    opts: { timeoutMs?: number; pendingOn408?: boolean },
  ): Promise<T> {
    const url = `${this.baseUrl}/api/v1${route}`;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.config.apiKey) headers['x-api-key'] = this.config.apiKey;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(opts.timeoutMs ?? this.options.requestTimeoutMs),
      });
    } catch (error) {
      const isTimeout = error instanceof Error && error.name === 'TimeoutError';
      if (isTimeout && opts.pendingOn408) throw new PendingSignal();
      throw new TinkerRequestError(`${method} ${route} failed: ${describe(error)}`, undefined, true);
    }
    if (response.status === 408 && opts.pendingOn408) throw new PendingSignal();
    const text = await response.text();
    if (!response.ok) {
      const detail = errorDetail(text);
      throw new TinkerRequestError(
        `${method} ${route} answered ${response.status}: ${detail}`,
        response.status,
        RETRYABLE_STATUS.has(response.status),
      );
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new TinkerRequestError(`${method} ${route} returned malformed JSON: ${text.slice(0, 200)}`, 200, true);
    }
  }
}

/** Internal: a long-poll that ended without a result. */
class PendingSignal extends Error {}

interface RawForwardOutput {
  loss_fn_outputs: { logprobs?: TensorData; elementwise_loss?: TensorData }[];
  metrics?: Record<string, number>;
}

function toForwardOutput(raw: RawForwardOutput): ForwardOutput {
  return {
    perDatum: raw.loss_fn_outputs.map((output) => ({
      logprobs: output.logprobs?.data ?? [],
      elementwiseLoss: output.elementwise_loss?.data ?? [],
    })),
    metrics: raw.metrics ?? {},
  };
}

function sourceFields(source: SampleSource): Record<string, string> {
  if ('modelPath' in source) return { model_path: source.modelPath };
  if ('samplingSessionId' in source) return { sampling_session_id: source.samplingSessionId };
  return { base_model: source.baseModel };
}

function errorDetail(text: string): string {
  try {
    const parsed = JSON.parse(text) as { detail?: unknown };
    if (parsed.detail !== undefined) return typeof parsed.detail === 'string' ? parsed.detail : JSON.stringify(parsed.detail);
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 300) || '(empty body)';
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}
