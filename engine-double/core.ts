import { createHash } from 'node:crypto';
import { seededRandom } from '../mel/random.js';
import type { AnswerBook } from './answers.js';
import { CheckpointStore, parseTinkerPath, type Checkpoint } from './checkpoints.js';
import { DoubleError, FutureFailure } from './errors.js';
import type { FaultAction } from './faults.js';
import { forwardPass } from './forward.js';
import { FutureStore, type WaitResult } from './futures.js';
import { hashTokens, hex8, mixInts } from './hash.js';
import { LatencyModel, sequenceCostsMs } from './latency.js';
import { DEFAULT_LOSS_CONFIG, type LossFn } from './losses.js';
import { baseWeightsVersion, ModelRegistry } from './models.js';
import type { EngineDoubleOptions } from './options.js';
import { sampleSequences, type TextCodec, type WireSequence } from './sampler.js';
import type { IsCorrect } from './solutions.js';
import {
  CreateModelSchema,
  CreateSamplingSessionSchema,
  CreateSessionSchema,
  ForwardBackwardSchema,
  ForwardSchema,
  JAX_LOSSES,
  LoadWeightsSchema,
  ModelIdSchema,
  OptimStepSchema,
  SampleSchema,
  SaveForSamplerSchema,
  SaveWeightsSchema,
  SessionSchema,
  type PassBody,
  type SampleBody,
} from './wire.js';
import type { z } from 'zod';

// The Tinker API's semantics, as SkyRL implements them, on the double's fake model. Each method takes a request
// body and returns the response body (or throws a DoubleError that becomes an HTTP status). Compute calls return
// a future at once; per model, they execute in arrival order.

const MAX_LORA_RANK = 32;

export interface FutureResponse {
  future_id: string;
  status: 'pending';
  request_id: string;
}

export interface CoreDeps {
  options: EngineDoubleOptions;
  baseModel: string;
  codec: TextCodec;
  answers: AnswerBook;
  isCorrect: IsCorrect;
}

type SamplerSource = { kind: 'base'; baseModel: string } | { kind: 'path'; checkpoint: Checkpoint };

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) {
    throw new DoubleError(
      422,
      parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    );
  }
  return parsed.data;
}

export class DoubleCore {
  readonly futures = new FutureStore();
  readonly checkpoints: CheckpointStore;
  readonly models: ModelRegistry;
  readonly latency: LatencyModel;
  private readonly sessions = new Set<string>();
  private readonly samplingSessions = new Map<string, { base_model?: string; model_path?: string }>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly submittedSeqIds = new Map<string, { fingerprint: string; response: FutureResponse }>();
  readonly counts = {
    sessions: 0,
    samplingSessions: 0,
    samples: 0,
    sequences: 0,
    sampledTokens: 0,
    trainedTokens: 0,
  };

  constructor(private readonly deps: CoreDeps) {
    const { options } = deps;
    this.checkpoints = new CheckpointStore(options.checkpointDir);
    this.models = new ModelRegistry(
      {
        seed: options.seed,
        name: options.name,
        reduction: options.reduction,
        maxLoadedModels: options.maxLoadedModels,
        incarnation: this.checkpoints.startIncarnation(),
      },
      this.checkpoints,
    );
    this.latency = new LatencyModel(options.latency);
  }

  health() {
    return { status: 'ok' };
  }

  capabilities() {
    return { supported_models: [{ model_name: this.deps.baseModel }] };
  }

  clientConfig() {
    return { pjwt_auth_enabled: false };
  }

  createSession(body: unknown) {
    parseBody(CreateSessionSchema, body);
    const sessionId = `session_${hex8(mixInts(this.deps.options.seed, 1, ++this.counts.sessions))}`;
    this.sessions.add(sessionId);
    return {
      type: 'create_session',
      session_id: sessionId,
      info_message: null,
      warning_message: null,
      error_message: null,
    };
  }

  heartbeat(body: unknown) {
    this.requireSession(parseBody(SessionSchema, body).session_id);
    return { type: 'session_heartbeat' };
  }

  private requireSession(sessionId: string): void {
    if (!this.sessions.has(sessionId)) throw new DoubleError(404, 'Session not found');
  }

  /** Runs `work` after everything submitted earlier for the model; a failure does not block later calls. */
  private onModel<T>(modelId: string, work: () => Promise<T> | T): Promise<T> {
    const previous = this.queues.get(modelId) ?? Promise.resolve();
    const run = previous.then(work);
    this.queues.set(
      modelId,
      run.catch(() => undefined),
    );
    return run;
  }

  private future(work: Promise<unknown>): FutureResponse {
    const id = this.futures.create(work);
    return { future_id: id, status: 'pending', request_id: id };
  }

  /** With seqIdMode dedupe: a repeated (model_id, seq_id) returns the first future, another body gets 409. */
  private once(
    route: string,
    body: { model_id: string; seq_id?: number | null },
    submit: () => FutureResponse,
  ) {
    if (this.deps.options.seqIdMode === 'ignore' || body.seq_id == null) return submit();
    const key = `${body.model_id}:${body.seq_id}`;
    const fingerprint = createHash('sha256').update(route).update(JSON.stringify(body)).digest('hex');
    const previous = this.submittedSeqIds.get(key);
    if (previous && previous.fingerprint !== fingerprint) {
      throw new DoubleError(
        409,
        `seq_id ${body.seq_id} of model ${body.model_id} was used for another request`,
      );
    }
    if (previous) return previous.response;
    const response = submit();
    this.submittedSeqIds.set(key, { fingerprint, response });
    return response;
  }

  createModel(body: unknown) {
    const request = parseBody(CreateModelSchema, body);
    this.requireSession(request.session_id);
    const model = this.models.register({
      sessionId: request.session_id,
      baseModel: request.base_model,
      rank: request.lora_config.rank,
      loraSeed: request.lora_config.seed ?? 0,
    });
    const { request_id } = this.future(
      this.onModel(model.id, async () => {
        if (!(model.rank > 0 && model.rank <= MAX_LORA_RANK)) {
          throw new FutureFailure(`LoRA rank ${model.rank} must be between 1 and ${MAX_LORA_RANK}`);
        }
        await this.latency.spend('create_model', this.deps.options.latency.createMs);
        const { train_attn, train_mlp, train_unembed } = request.lora_config;
        return this.models.execCreate(model.id, { train_attn, train_mlp, train_unembed });
      }),
    );
    return {
      model_id: model.id,
      base_model: request.base_model,
      // SkyRL echoes rank and seed at once; the full LoRA configuration comes with the future's result.
      lora_config: { rank: model.rank, seed: model.loraSeed },
      status: 'created',
      request_id,
    };
  }

  getInfo(body: unknown) {
    const model = this.models.require(parseBody(ModelIdSchema, body).model_id);
    return {
      model_id: model.id,
      status: model.loaded ? 'ready' : model.created ? 'unloaded' : 'created',
      model_data: {
        base_model: model.baseModel,
        lora_config: { rank: model.rank },
        model_name: model.baseModel,
      },
    };
  }

  unloadModel(body: unknown) {
    const { model_id } = parseBody(ModelIdSchema, body);
    this.models.require(model_id);
    const { request_id } = this.future(this.onModel(model_id, () => this.models.execUnload(model_id)));
    return { request_id, model_id };
  }

  forwardBackward(body: unknown) {
    const request = parseBody(ForwardBackwardSchema, body);
    this.models.require(request.model_id);
    return this.once('forward_backward', request, () =>
      this.future(
        this.onModel(request.model_id, () =>
          this.runPass(request.model_id, request.forward_backward_input, true),
        ),
      ),
    );
  }

  forward(body: unknown) {
    const request = parseBody(ForwardSchema, body);
    this.models.require(request.model_id);
    return this.future(
      this.onModel(request.model_id, () => this.runPass(request.model_id, request.forward_input, false)),
    );
  }

  private async runPass(modelId: string, input: PassBody, backward: boolean) {
    const model = this.models.loaded(modelId);
    if (!(JAX_LOSSES as readonly string[]).includes(input.loss_fn)) {
      throw new FutureFailure(`loss_fn ${input.loss_fn} is not supported by the JAX backend`);
    }
    const config = {
      clipLow: input.loss_fn_config?.clip_low_threshold ?? DEFAULT_LOSS_CONFIG.clipLow,
      clipHigh: input.loss_fn_config?.clip_high_threshold ?? DEFAULT_LOSS_CONFIG.clipHigh,
    };
    const pass = forwardPass(
      model.weightsVersion,
      input.data,
      input.loss_fn as LossFn,
      config,
      this.deps.options.reduction === 'sum',
    );
    const tokens = pass.weights.reduce((sum, w) => sum + w.length, 0);
    await this.latency.spend(
      backward ? 'forward_backward' : 'forward',
      tokens * this.deps.options.latency.msPerTrainedToken,
    );
    if (backward) {
      this.models.accumulate(model, input.loss_fn, pass, pass.gradientHash);
      this.counts.trainedTokens += tokens;
    }
    return pass.result;
  }

  optimStep(body: unknown) {
    const request = parseBody(OptimStepSchema, body);
    this.models.require(request.model_id);
    return this.once('optim_step', request, () =>
      this.future(
        this.onModel(request.model_id, async () => {
          await this.latency.spend('optim_step', this.deps.options.latency.optimStepMs);
          return { metrics: this.models.execOptimStep(request.model_id, request.adam_params.learning_rate) };
        }),
      ),
    );
  }

  saveWeights(body: unknown) {
    const request = parseBody(SaveWeightsSchema, body);
    this.models.require(request.model_id);
    return this.once('save_weights', request, () =>
      this.future(
        this.onModel(request.model_id, async () => {
          await this.latency.spend('save_weights', this.deps.options.latency.saveMs);
          return {
            path: this.models.execSave('training', request.model_id, request.path),
            type: 'save_weights',
          };
        }),
      ),
    );
  }

  saveWeightsForSampler(body: unknown) {
    const request = parseBody(SaveForSamplerSchema, body);
    this.models.require(request.model_id);
    const name = request.path ?? `ss${request.sampling_session_seq_id}_seq${request.seq_id}`;
    const ephemeral = request.sampling_session_seq_id != null && request.seq_id != null;
    const samplingSessionId = ephemeral
      ? this.addSamplingSession({ model_path: `tinker://${request.model_id}/sampler_weights/${name}` })
      : null;
    return this.once('save_weights_for_sampler', request, () =>
      this.future(
        this.onModel(request.model_id, async () => {
          await this.latency.spend('save_weights_for_sampler', this.deps.options.latency.saveMs);
          const path = this.models.execSave('sampler', request.model_id, name);
          return { path, type: 'save_weights_for_sampler', sampling_session_id: samplingSessionId };
        }),
      ),
    );
  }

  loadWeights(body: unknown) {
    const request = parseBody(LoadWeightsSchema, body);
    this.models.require(request.model_id);
    const path = parseTinkerPath(request.path);
    if (!path || path.kind !== 'weights') {
      throw new DoubleError(
        400,
        'request.path must be in format tinker://source_model_id/weights/checkpoint_id',
      );
    }
    const checkpoint = this.checkpoints.get('training', path.modelId, path.name);
    return this.once('load_weights', request, () =>
      this.future(
        this.onModel(request.model_id, async () => {
          await this.latency.spend('load_weights', this.deps.options.latency.loadMs);
          this.models.execLoad(request.model_id, checkpoint, request.optimizer);
          return { type: 'load_weights' };
        }),
      ),
    );
  }

  private addSamplingSession(source: { base_model?: string; model_path?: string }): string {
    const id = `sampling_${hex8(mixInts(this.deps.options.seed, 2, ++this.counts.samplingSessions))}`;
    this.samplingSessions.set(id, source);
    return id;
  }

  createSamplingSession(body: unknown) {
    const request = parseBody(CreateSamplingSessionSchema, body);
    this.requireSession(request.session_id);
    if ((request.base_model == null) === (request.model_path == null)) {
      throw new DoubleError(400, 'Exactly one of base_model or model_path must be provided');
    }
    const id = this.addSamplingSession({
      ...(request.base_model != null ? { base_model: request.base_model } : {}),
      ...(request.model_path != null ? { model_path: request.model_path } : {}),
    });
    return { type: 'create_sampling_session', sampling_session_id: id };
  }

  /** Hosted Tinker's `DELETE /training_runs/<model>/checkpoints/<weights|sampler_weights>/<name>`. */
  deleteCheckpoint(route: string) {
    const match = /^([A-Za-z0-9_-]+)\/checkpoints\/(weights|sampler_weights)\/([A-Za-z0-9_-]+)$/.exec(route);
    if (!match) throw new DoubleError(404, 'Not Found');
    const kind = match[2] === 'weights' ? 'training' : 'sampler';
    if (!this.checkpoints.delete(kind, match[1]!, match[3]!))
      throw new DoubleError(404, 'Checkpoint not found');
    return {};
  }

  getSampler(samplerId: string) {
    const source = this.samplingSessions.get(samplerId);
    if (!source) throw new DoubleError(404, 'Sampler not found');
    return {
      sampler_id: samplerId,
      base_model: source.base_model ?? this.deps.baseModel,
      model_path: source.model_path ?? null,
    };
  }

  private samplerSource(request: SampleBody): SamplerSource {
    let { base_model: baseModel, model_path: modelPath } = request;
    if (request.sampling_session_id != null) {
      if (request.seq_id == null)
        throw new DoubleError(422, "'seq_id' must be provided when 'sampling_session_id' is used");
      const session = this.samplingSessions.get(request.sampling_session_id);
      if (!session) throw new DoubleError(404, 'Sampling session not found');
      ({ base_model: baseModel, model_path: modelPath } = session);
    } else if ((baseModel == null) === (modelPath == null)) {
      throw new DoubleError(422, "exactly one of 'base_model' or 'model_path' must be provided");
    }
    if (baseModel != null) return { kind: 'base', baseModel };
    const path = parseTinkerPath(modelPath ?? '');
    if (!path || (path.kind !== '' && path.kind !== 'sampler_weights')) {
      throw new DoubleError(
        400,
        'model_path must be tinker://model_id/checkpoint_id or tinker://model_id/sampler_weights/checkpoint_id',
      );
    }
    this.models.require(path.modelId);
    return { kind: 'path', checkpoint: this.checkpoints.get('sampler', path.modelId, path.name) };
  }

  private weightsFor(source: SamplerSource): number {
    if (source.kind === 'path') {
      this.models.loaded(source.checkpoint.modelId);
      return source.checkpoint.weightsVersion;
    }
    if (source.baseModel !== this.deps.baseModel) {
      throw new FutureFailure(
        `Requested base_model '${source.baseModel}' does not match engine's base_model '${this.deps.baseModel}'`,
      );
    }
    return baseWeightsVersion(this.deps.baseModel);
  }

  asample(body: unknown, faults: readonly FaultAction[] = []) {
    const request = parseBody(SampleSchema, body);
    const source = this.samplerSource(request);
    return this.future(Promise.resolve().then(() => this.runSample(request, source, faults)));
  }

  private async runSample(request: SampleBody, source: SamplerSource, faults: readonly FaultAction[]) {
    const promptTokens = request.prompt.chunks.flatMap((chunk) => chunk.tokens ?? []);
    const params = request.sampling_params;
    const input = {
      promptTokens,
      numSamples: request.num_samples,
      maxTokens: params.max_tokens,
      temperature: params.temperature,
      seed: params.seed ?? 0,
      stopTokens: (params.stop ?? []).filter((stop): stop is number => typeof stop === 'number'),
    };
    const overflow = contextOverflow(
      promptTokens.length,
      params.max_tokens,
      this.deps.options.maxContextTokens,
    );
    if (overflow) throw new FutureFailure(overflow);
    const weights = this.weightsFor(source);
    const deps = { seed: this.deps.options.seed, codec: this.deps.codec, generation: this.generation() };
    const sequences = applySampleFaults(
      sampleSequences(deps, input, weights),
      faults,
      mixInts(weights, hashTokens(promptTokens)),
    );
    await this.latency.spendSequences(
      'asample',
      sequenceCostsMs(
        this.deps.options.latency,
        promptTokens.length,
        sequences.map((s) => s.tokens.length),
      ),
    );
    this.counts.samples++;
    this.counts.sequences += sequences.length;
    this.counts.sampledTokens += sequences.reduce((sum, s) => sum + s.tokens.length, 0);
    return { sequences, prompt_logprobs: null };
  }

  private generation() {
    const { options } = this.deps;
    return {
      settings: {
        pCorrect: options.pCorrect,
        pReplayCorrect: options.pReplayCorrect,
        pUnparseable: options.pUnparseable,
        pTruncated: options.pTruncated,
        pStatesAnswer: options.pStatesAnswer,
        meanTokens: options.meanTokens,
        reflectionMeanTokens: options.reflectionMeanTokens,
      },
      answers: this.deps.answers,
      isCorrect: this.deps.isCorrect,
      countTokens: (text: string) => this.deps.codec.encode(text).length,
    };
  }

  retrieve(requestId: string, signal?: AbortSignal): Promise<WaitResult> {
    return this.futures.wait(requestId, this.deps.options.retrieveHoldMs, signal);
  }
}

/**
 * What SkyRL answers (retrieve_future: 400 with this detail) when its vLLM engine refuses a request that does not
 * fit the model's context: vLLM's message, wrapped by SkyRL's remote inference client. SkyRL 0.3.0's JAX backend
 * does not check. Undefined when the request fits or there is no limit (0).
 */
export function contextOverflow(promptTokens: number, maxTokens: number, limit: number): string | undefined {
  if (limit === 0 || promptTokens + maxTokens <= limit) return undefined;
  const vllm =
    promptTokens >= limit
      ? `This model's maximum context length is ${limit} tokens. However, your request has ${promptTokens} ` +
        'input tokens. Please reduce the length of the input messages.'
      : `'max_tokens' or 'max_completion_tokens' is too large: ${maxTokens}. This model's maximum context length ` +
        `is ${limit} tokens and your request has ${promptTokens} input tokens (${maxTokens} > ${limit} - ${promptTokens}).`;
  return (
    `Sampling failed for sample 0: ClientResponseError: 400, message="${vllm}", ` +
    "url='http://127.0.0.1:8001/inference/v1/generate'"
  );
}

/** The asample fault actions, applied to a computed result. */
export function applySampleFaults(
  sequences: WireSequence[],
  faults: readonly FaultAction[],
  seed: number,
): WireSequence[] {
  let result = sequences;
  for (const fault of faults) {
    if (fault.type === 'logprobs-null') result = result.map((s) => ({ ...s, logprobs: null }));
    if (fault.type === 'wrong-sample-count')
      result = result.length > 1 ? result.slice(0, -1) : [...result, ...result];
    if (fault.type === 'extra-sample') result = [...result, ...result.slice(-1)];
    if (fault.type === 'empty-sample')
      result = result.map((s, i) => (i === 0 ? { ...s, tokens: [], logprobs: s.logprobs && [] } : s));
    if (fault.type === 'garbage-sample') {
      const random = seededRandom(seed);
      result = result.map((s) => ({ ...s, tokens: s.tokens.map(() => 3 + Math.floor(random() * 256)) }));
    }
  }
  return result;
}
