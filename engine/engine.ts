/**
 * The engine interface activities program against. Two implementations: the Tinker REST client (`tinker.ts`: hosted
 * Tinker or a SkyRL server; samples, trains, checkpoints) and the OpenAI-compatible client (`openai-compatible.ts`:
 * vLLM, SGLang, Ollama, OpenAI, Tinker's OpenAI endpoint; writes meta-experiences when MEL_REFLECTION_ENGINE says so,
 * never trains).
 * Everything is token ids in and token ids out: sampled ids are kept verbatim for training, never re-encoded.
 */
import type { ChatMessage, Datum, LossReduction } from '../mel/index.js';

export type { ChatMessage, Datum };

export type EngineKind = 'tinker' | 'openai-compatible';

export { EngineError } from './errors.js';

export interface SampleRequest {
  /**
   * What to sample from: a path returned by `saveWeightsForSampler`, or a model name. Absent: the engine's
   * configured model.
   */
  sampler?: string;
  promptTokens: readonly number[];
  numSamples: number;
  maxTokens: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  /** Ids that end a sample and are kept as its last token. SkyRL has no implicit EOS stop: pass the end-of-turn id. */
  stopTokens?: readonly number[];
}

export interface SampledSequence {
  stopReason: 'stop' | 'length';
  /** Exactly the ids the engine sampled. */
  tokens: number[];
  /** The sampler's log-probability of each token in `tokens`. */
  logprobs: number[];
}

export interface ChatRequest {
  /** A model name or sampler path; absent: the engine's configured model. */
  model?: string;
  messages: readonly ChatMessage[];
  numSamples: number;
  maxTokens: number;
  temperature?: number;
  topP?: number;
  seed?: number;
}

export interface ChatCompletion {
  stopReason: 'stop' | 'length';
  text: string;
  /** Present where the server returns them. */
  tokens?: number[];
  logprobs?: number[];
}

export type Loss =
  | { fn: 'cross_entropy' }
  | { fn: 'importance_sampling' }
  /** Clipped surrogate; thresholds bound the ratio (SkyRL's defaults: 0.8 and 1.2). */
  | { fn: 'ppo'; clipLowThreshold?: number; clipHighThreshold?: number }
  | { fn: 'cispo'; clipLowThreshold?: number; clipHighThreshold?: number };

export interface ForwardOutput {
  /** One entry per datum: the model's log-probability of each target token, and the per-token loss. */
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

/**
 * `seqId` makes a training call idempotent per model: a retry with the same seqId and the same body is answered with
 * the first call's result instead of being applied again; the same seqId with another body is a non-retryable error.
 * Use one increasing counter per model.
 */
export interface Sequenced {
  modelId: string;
  seqId?: number;
}

export interface TrainingEngine {
  /** How the engine reduces the loss of a step's forward_backward calls (mel/objective.ts, docs/mel.md). */
  readonly lossReduction: LossReduction;
  /** A fresh LoRA adapter on `baseModel`; returns its model id. */
  createTrainingModel(args: { baseModel: string; rank: number; seed?: number }): Promise<string>;
  forwardBackward(args: Sequenced & { data: readonly Datum[]; loss: Loss }): Promise<ForwardOutput>;
  /** Log-probabilities without gradients. */
  forward(args: { modelId: string; data: readonly Datum[] }): Promise<ForwardOutput>;
  optimStep(args: Sequenced & { adam: AdamParams }): Promise<Record<string, number>>;
  /** Saves the weights for sampling under `name` ([A-Za-z0-9_-]+); returns the sampler path for `SampleRequest`. */
  saveWeightsForSampler(args: Sequenced & { name: string }): Promise<string>;
  /** Saves weights and optimizer state; returns the path for `loadState`. */
  saveState(args: Sequenced & { name: string }): Promise<string>;
  loadState(args: Sequenced & { path: string }): Promise<void>;
  /** Frees the model's adapter slot on the server. */
  unloadModel(modelId: string): Promise<void>;
  /**
   * Deletes a saved checkpoint (a state or sampler path): 'absent' when it is already gone, 'unsupported' when the
   * engine has no delete route (SkyRL 0.3.0). Engines without the method cannot delete.
   */
  deleteCheckpoint?(path: string): Promise<CheckpointDeletion>;
}

export type CheckpointDeletion = 'deleted' | 'absent' | 'unsupported';

export interface SamplingEngine {
  sample(request: SampleRequest): Promise<SampledSequence[]>;
}

/**
 * Text in, text out: the summarize call (the meta-experience) when a model other than the policy writes it. Contrast
 * is CPU code and replays (validate) always sample the policy itself.
 */
export interface ReflectionEngine {
  /** Who writes the reflections, as the audit trail shows it (e.g. "gpt-4o at https://api.openai.com/v1"). */
  readonly name: string;
  chat(request: ChatRequest): Promise<ChatCompletion[]>;
}

export interface EngineDescription {
  kind: EngineKind;
  baseUrl: string;
  /** The model the client is configured to use, if any. */
  configuredModel: string | undefined;
  /** Models the server says it serves. */
  servedModels: string[];
  supports: {
    training: boolean;
    losses: Loss['fn'][];
    tokenSampling: boolean;
    chat: boolean;
  };
}

export interface DescribableEngine {
  /** Asks the server what it serves; throws an EngineError when it does not answer. */
  describe(): Promise<EngineDescription>;
}

/** The engine a MEL run trains: samples with token ids and logprobs, and trains. */
export type PolicyEngine = TrainingEngine & SamplingEngine & DescribableEngine;
