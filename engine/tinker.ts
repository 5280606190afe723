/**
 * Client for the Tinker training/sampling REST API (JSON wire format), as served by hosted Tinker and by SkyRL's
 * open-source server. Every compute call returns a future that is long-polled through `retrieve_future`.
 *
 * Inside a call scope (an activity attempt, common/call-scope.ts) every answer from the engine is reported as
 * progress, and the scope's signal aborts requests in flight, backoffs and polling.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { currentCallScope } from '../common/call-scope.js';
import { downloadSamplerArchive, parseCheckpointPath, type DownloadedArchive } from './checkpoint-archive.js';
import {
  EngineError,
  type AdamParams,
  type CheckpointDeletion,
  type Datum,
  type EngineDescription,
  type ForwardOutput,
  type Loss,
  type PolicyEngine,
  type SampledSequence,
  type SampleRequest,
  type Sequenced,
} from './engine.js';
import { describeError, isRetryableStatus, isSessionGone } from './errors.js';
import type { LossReduction } from '../mel/objective.js';

export interface TinkerClientOptions {
  baseUrl: string;
  /** Sent as X-API-Key. Never logged. SkyRL ignores it; hosted Tinker requires a `tml-` key. */
  apiKey?: string;
  /** Sampled when a request names no sampler; exactly the server's base model string (a local path for SkyRL). */
  baseModel?: string;
  /** How the server reduces a step's loss: SkyRL's per-datum mean (the default) or hosted Tinker's sum. */
  lossReduction?: LossReduction;
  /** Per HTTP request, plus a second per MB of its body (`requestTimeoutMs()`); the long-poll uses `pollTimeoutMs`. */
  requestTimeoutMs?: number;
  /**
   * Client-side hold on one retrieve_future call; below SkyRL's 300 s server hold so we re-poll, not hang. A poll
   * that ends unanswered is followed by a health check, whose answer shows the engine alive while a long
   * computation runs: keep this below the stall bound of the activities that use the client.
   */
  pollTimeoutMs?: number;
  /** Overall limit for one future to resolve. */
  futureTimeoutMs?: number;
  maxRetries?: number;
  retryBaseDelayMs?: number;
}

/** How long one request (other than a long-poll) without a body may take by default. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * The slowest rate at which a request's body is assumed to be taken in: it travels, and the engine stores it before
 * answering with a future (SkyRL writes each request into its database). 1 MB/s is far below either on any machine
 * an engine runs on, so a large request (a forward_backward of up to about 5 MB) gets its time, and a hung engine is
 * still noticed within a few seconds of its size.
 */
export const MIN_BODY_BYTES_PER_S = 1_000_000;

/** One request's timeout: `baseMs` plus its body's time at MIN_BODY_BYTES_PER_S (one more second per MB). */
export function requestTimeoutMs(baseMs: number, bodyBytes: number): number {
  return baseMs + Math.ceil((bodyBytes * 1000) / MIN_BODY_BYTES_PER_S);
}

/** Losses this client sends; SkyRL's JAX backend implements exactly these (hosted Tinker also has `dro`). */
export const TINKER_LOSSES: Loss['fn'][] = ['cross_entropy', 'importance_sampling', 'ppo', 'cispo'];

interface FutureHandle {
  request_id: string;
}

interface SubmittedCall {
  fingerprint: string;
  handle: Promise<FutureHandle>;
}

type Method = 'GET' | 'POST' | 'DELETE';

interface CallOptions {
  retries?: number;
  timeoutMs?: number;
  /** retrieve_future: a 408 or a client timeout means "not done yet", not failure. */
  pendingOnTimeout?: boolean;
  /**
   * A state-changing submit: re-sent only when the engine provably did not take it (connection refused, 429); a
   * 4xx refusal is reported as it is. After a timeout, a reset or a 5xx it may have been applied, and a re-send
   * could apply it twice.
   */
  onlyIfUndelivered?: boolean;
}

export class TinkerClient implements PolicyEngine {
  private readonly baseUrl: string;
  private readonly options: Required<
    Omit<TinkerClientOptions, 'apiKey' | 'baseUrl' | 'baseModel' | 'lossReduction'>
  >;
  readonly lossReduction: LossReduction;
  private session: Promise<string> | undefined;
  /**
   * Training calls already submitted, by model and seq_id. Hosted Tinker dedupes (model_id, seq_id) on the server;
   * SkyRL 0.3.0 ignores seq_id, so this is what keeps a retry in this process from training twice there.
   */
  private readonly submitted = new Map<string, Map<number, SubmittedCall>>();

  constructor(private readonly config: TinkerClientOptions) {
    this.baseUrl = config.baseUrl.replace(/\/+$/, '');
    this.lossReduction = config.lossReduction ?? 'skyrl';
    this.options = {
      requestTimeoutMs: config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
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

  async describe(): Promise<EngineDescription> {
    return {
      kind: 'tinker',
      baseUrl: this.baseUrl,
      configuredModel: this.config.baseModel,
      servedModels: await this.supportedModels(),
      supports: { training: true, losses: TINKER_LOSSES, tokenSampling: true, chat: false },
    };
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

  /** Creates the client's session on first use; every model this client creates belongs to it. */
  private sessionId(): Promise<string> {
    this.session ??= this.createSession(['mel-temporal']).catch((error: unknown) => {
      this.session = undefined;
      throw error;
    });
    return this.session;
  }

  async createTrainingModel(args: { baseModel: string; rank: number; seed?: number }): Promise<string> {
    const session = this.sessionId();
    try {
      return await this.createModelIn(await session, args);
    } catch (error) {
      if (!isSessionGone(error)) throw error;
      // The engine forgot the session this client created (an engine restarted on a fresh state, a session that
      // expired). Its 404 proves it created no model, so ask again in a new session.
      if (this.session === session) this.session = undefined;
      return this.createModelIn(await this.sessionId(), args);
    }
  }

  private async createModelIn(
    sessionId: string,
    args: { baseModel: string; rank: number; seed?: number },
  ): Promise<string> {
    const future = await this.call<FutureHandle & { model_id: string }>('POST', '/create_model', {
      session_id: sessionId,
      model_seq_id: 0,
      base_model: args.baseModel,
      lora_config: {
        rank: args.rank,
        seed: args.seed ?? 0,
        train_mlp: true,
        train_attn: true,
        train_unembed: false,
      },
      user_metadata: null,
      type: 'create_model',
    });
    const result = await this.awaitFuture<{ model_id: string }>(future);
    return result.model_id;
  }

  async unloadModel(modelId: string): Promise<void> {
    const future = await this.call<FutureHandle>('POST', '/unload_model', {
      model_id: modelId,
      type: 'unload_model',
    });
    await this.awaitFuture(future);
    this.submitted.delete(modelId);
  }

  async forwardBackward(args: Sequenced & { data: readonly Datum[]; loss: Loss }): Promise<ForwardOutput> {
    const raw = await this.sequencedCall<RawForwardOutput>(args, '/forward_backward', {
      forward_backward_input: { data: args.data, ...lossFields(args.loss) },
    });
    return toForwardOutput(raw);
  }

  async forward(args: { modelId: string; data: readonly Datum[] }): Promise<ForwardOutput> {
    const future = await this.call<FutureHandle>('POST', '/forward', {
      model_id: args.modelId,
      forward_input: { data: args.data, ...lossFields({ fn: 'cross_entropy' }) },
    });
    return toForwardOutput(await this.awaitFuture<RawForwardOutput>(future));
  }

  async optimStep(args: Sequenced & { adam: AdamParams }): Promise<Record<string, number>> {
    const { adam } = args;
    const result = await this.sequencedCall<{ metrics?: Record<string, number> }>(args, '/optim_step', {
      adam_params: {
        learning_rate: adam.learningRate,
        beta1: adam.beta1 ?? 0.9,
        beta2: adam.beta2 ?? 0.95,
        eps: adam.eps ?? 1e-8,
        weight_decay: adam.weightDecay ?? 0,
      },
      type: 'optim_step',
    });
    return result.metrics ?? {};
  }

  async saveWeightsForSampler(args: Sequenced & { name: string }): Promise<string> {
    return this.savePath('/save_weights_for_sampler', args);
  }

  /** Streams a sampler checkpoint's adapter archive (tar.gz, PEFT layout) into `file` (engine/checkpoint-archive.ts). */
  downloadSamplerArchive(samplerPath: string, file: string): Promise<DownloadedArchive> {
    return downloadSamplerArchive({ baseUrl: this.baseUrl, apiKey: this.config.apiKey }, samplerPath, file);
  }

  /**
   * `DELETE /training_runs/<model>/checkpoints/<weights|sampler_weights>/<name>`, hosted Tinker's route. An engine
   * without the route (SkyRL 0.3.0) answers FastAPI's bare 404 "Not Found" or a 405: 'unsupported'; any other 404
   * is a checkpoint already gone.
   */
  async deleteCheckpoint(path: string): Promise<CheckpointDeletion> {
    const { modelId, kind, name } = parseCheckpointPath(path);
    try {
      await this.call('DELETE', `/training_runs/${modelId}/checkpoints/${kind}/${name}`);
      return 'deleted';
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      if (error.status === 405 || (error.status === 404 && /answered 404: Not Found$/.test(error.message))) {
        return 'unsupported';
      }
      if (error.status === 404) return 'absent';
      throw error;
    }
  }

  async saveState(args: Sequenced & { name: string }): Promise<string> {
    return this.savePath('/save_weights', args);
  }

  /** Restores weights and optimizer state. SkyRL wants this as the model's first call after creation. */
  async loadState(args: Sequenced & { path: string }): Promise<void> {
    await this.sequencedCall(args, '/load_weights', {
      path: args.path,
      optimizer: true,
      type: 'load_weights',
    });
  }

  async sample(request: SampleRequest): Promise<SampledSequence[]> {
    const future = await this.call<FutureHandle>('POST', '/asample', {
      ...this.samplerFields(request.sampler),
      prompt: { chunks: [{ type: 'encoded_text', tokens: request.promptTokens }] },
      num_samples: request.numSamples,
      sampling_params: {
        max_tokens: request.maxTokens,
        temperature: request.temperature ?? 1,
        top_p: request.topP ?? 1,
        top_k: -1,
        seed: request.seed,
        stop: request.stopTokens,
      },
      prompt_logprobs: false,
      topk_prompt_logprobs: 0,
      type: 'sample',
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

  private samplerFields(sampler: string | undefined): Record<string, string> {
    if (sampler?.startsWith('tinker://')) return { model_path: sampler };
    const baseModel = sampler ?? this.config.baseModel;
    if (!baseModel) {
      throw new EngineError('sample: no sampler given and no baseModel configured', { retryable: false });
    }
    return { base_model: baseModel };
  }

  private async savePath(route: string, args: Sequenced & { name: string }): Promise<string> {
    if (!/^[A-Za-z0-9_-]+$/.test(args.name)) {
      throw new EngineError(`checkpoint name ${JSON.stringify(args.name)} must match [A-Za-z0-9_-]+`, {
        retryable: false,
      });
    }
    const result = await this.sequencedCall<{ path: string }>(args, route, { path: args.name });
    return result.path;
  }

  /**
   * A state-changing call on a model. With a seq_id it is submitted at most once per client: a repeat with the same
   * body polls the first submission's future; a different body under the same seq_id is refused.
   */
  private async sequencedCall<T>(
    target: Sequenced,
    route: string,
    fields: Record<string, unknown>,
  ): Promise<T> {
    const body = { model_id: target.modelId, seq_id: target.seqId, ...fields };
    if (target.seqId === undefined)
      return this.awaitFuture<T>(
        await this.call<FutureHandle>('POST', route, body, { onlyIfUndelivered: true }),
      );
    const handle = this.submitOnce(target.modelId, target.seqId, route, body);
    return this.awaitFuture<T>(await handle);
  }

  private submitOnce(modelId: string, seqId: number, route: string, body: object): Promise<FutureHandle> {
    const fingerprint = createHash('sha256').update(route).update(JSON.stringify(body)).digest('hex');
    const calls = this.submitted.get(modelId) ?? new Map<number, SubmittedCall>();
    this.submitted.set(modelId, calls);
    const previous = calls.get(seqId);
    if (previous) {
      if (previous.fingerprint === fingerprint) return previous.handle;
      throw new EngineError(
        `${route}: seq_id ${seqId} of model ${modelId} was already used for a different request`,
        {
          retryable: false,
          status: 409,
        },
      );
    }
    const handle = this.call<FutureHandle>('POST', route, body, { onlyIfUndelivered: true }).catch(
      (error: unknown) => {
        calls.delete(seqId);
        throw error;
      },
    );
    calls.set(seqId, { fingerprint, handle });
    return handle;
  }

  /** Long-polls a future until it resolves, fails or runs out of time. */
  private async awaitFuture<T>(future: FutureHandle): Promise<T> {
    const deadline = Date.now() + this.options.futureTimeoutMs;
    while (Date.now() < deadline) {
      const outcome = await this.pollOnce<T>(future.request_id);
      if (outcome.done) return outcome.value;
      if (!outcome.answered) await this.healthy();
    }
    throw new EngineError(
      `future ${future.request_id} did not resolve within ${this.options.futureTimeoutMs} ms`,
      {
        retryable: true,
      },
    );
  }

  /** One long-poll: the result, or not yet, saying whether the engine answered so (408, try_again) or not at all. */
  private async pollOnce<T>(
    requestId: string,
  ): Promise<{ done: true; value: T } | { done: false; answered: boolean }> {
    try {
      const value = await this.call<T & { type?: string }>(
        'POST',
        '/retrieve_future',
        { request_id: requestId, allow_metadata_only: false },
        { timeoutMs: this.options.pollTimeoutMs, pendingOnTimeout: true },
      );
      // Hosted Tinker may answer 200 with a "come back later" marker instead of holding the call.
      if (value && value.type === 'try_again') return { done: false, answered: true };
      return { done: true, value };
    } catch (error) {
      if (error instanceof PendingSignal) return { done: false, answered: error.answered };
      throw error;
    }
  }

  private async call<T>(method: Method, route: string, body?: unknown, opts: CallOptions = {}): Promise<T> {
    const retries = opts.retries ?? this.options.maxRetries;
    const scope = currentCallScope();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.callOnce<T>(method, route, body, opts);
      } catch (error) {
        if (error instanceof PendingSignal) throw error;
        // The work it was made for is over: no retry, and no "outcome unknown" for an answer nobody awaits.
        scope?.signal.throwIfAborted();
        if (opts.onlyIfUndelivered && !isUndelivered(error)) throw unknownOutcome(method, route, error);
        const retryable = !(error instanceof EngineError) || error.retryable;
        if (!retryable || attempt >= retries) throw error;
        await sleep(this.options.retryBaseDelayMs * 2 ** attempt, undefined, { signal: scope?.signal }).catch(
          () => scope?.signal.throwIfAborted(),
        );
      }
    }
  }

  private async callOnce<T>(method: Method, route: string, body: unknown, opts: CallOptions): Promise<T> {
    const scope = currentCallScope();
    scope?.signal.throwIfAborted();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.config.apiKey) headers['x-api-key'] = this.config.apiKey;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const deadline = AbortSignal.timeout(
      opts.timeoutMs ??
        requestTimeoutMs(this.options.requestTimeoutMs, payload ? Buffer.byteLength(payload) : 0),
    );
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.baseUrl}/api/v1${route}`, {
        method,
        headers,
        body: payload,
        signal: scope ? AbortSignal.any([scope.signal, deadline]) : deadline,
      });
      text = await response.text();
    } catch (error) {
      scope?.signal.throwIfAborted();
      if (deadline.aborted && opts.pendingOnTimeout) throw new PendingSignal(false);
      throw new EngineError(`${method} ${route} failed: ${describeError(error)}`, {
        retryable: true,
        cause: error,
      });
    }
    scope?.progressed(`engine ${method} ${route} ${response.status}`);
    if (response.status === 408 && opts.pendingOnTimeout) throw new PendingSignal(true);
    if (!response.ok) {
      throw new EngineError(`${method} ${route} answered ${response.status}: ${errorDetail(text)}`, {
        retryable: isRetryableStatus(response.status),
        status: response.status,
      });
    }
    if (text === '' && method === 'DELETE') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new EngineError(`${method} ${route} returned malformed JSON: ${text.slice(0, 200)}`, {
        retryable: true,
        status: response.status,
        cause: error,
      });
    }
  }
}

/**
 * The engine did not take the request: the connection was refused, or it answered a 4xx other than 408 (a rate
 * limit, or a refusal of the request itself, which is then reported as it is rather than as an unknown outcome).
 */
function isUndelivered(error: unknown): boolean {
  if (!(error instanceof EngineError)) return false;
  const { status } = error;
  if (status !== undefined && status >= 400 && status < 500 && status !== 408) return true;
  const code = (error.cause as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return code === 'ECONNREFUSED';
}

/** The outcome of a state-changing call is unknown: never re-sent here; the caller's next attempt starts afresh. */
function unknownOutcome(method: string, route: string, error: unknown): EngineError {
  return new EngineError(
    `${method} ${route}: outcome unknown (${describeError(error)}); not re-sent, since the engine may have ` +
      'applied it already',
    {
      retryable: false,
      outcomeUnknown: true,
      status: error instanceof EngineError ? error.status : undefined,
      cause: error,
    },
  );
}

/** Internal: a long-poll that ended without a result: answered "not yet" (408), or not answered in time. */
class PendingSignal extends Error {
  constructor(readonly answered: boolean) {
    super('pending');
  }
}

interface RawForwardOutput {
  loss_fn_outputs?: { logprobs?: { data: number[] }; elementwise_loss?: { data: number[] } }[];
  metrics?: Record<string, number>;
}

function toForwardOutput(raw: RawForwardOutput): ForwardOutput {
  if (!Array.isArray(raw.loss_fn_outputs)) {
    throw new EngineError(`forward result has no loss_fn_outputs: ${JSON.stringify(raw).slice(0, 200)}`, {
      retryable: false,
    });
  }
  return {
    perDatum: raw.loss_fn_outputs.map((output) => ({
      logprobs: output.logprobs?.data ?? [],
      elementwiseLoss: output.elementwise_loss?.data ?? [],
    })),
    metrics: raw.metrics ?? {},
  };
}

function lossFields(loss: Loss): { loss_fn: Loss['fn']; loss_fn_config: Record<string, number> | null } {
  const config: Record<string, number> = {};
  if (loss.fn === 'ppo' || loss.fn === 'cispo') {
    if (loss.clipLowThreshold !== undefined) config.clip_low_threshold = loss.clipLowThreshold;
    if (loss.clipHighThreshold !== undefined) config.clip_high_threshold = loss.clipHighThreshold;
  }
  return { loss_fn: loss.fn, loss_fn_config: Object.keys(config).length > 0 ? config : null };
}

function errorDetail(text: string): string {
  try {
    const parsed = JSON.parse(text) as { detail?: unknown };
    if (parsed.detail !== undefined) {
      return typeof parsed.detail === 'string' ? parsed.detail : JSON.stringify(parsed.detail);
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 300) || '(empty body)';
}
