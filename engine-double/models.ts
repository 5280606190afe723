import { hashString } from '../mel/random.js';
import { checkpointPath, type Checkpoint, type CheckpointKind, type CheckpointStore } from './checkpoints.js';
import { DoubleError, FutureFailure } from './errors.js';
import { mixInts } from './hash.js';
import {
  effectiveWeights,
  type AccumulatedDatum,
  type EffectiveDatumWeights,
  type Reduction,
} from './reduction.js';

// LoRA models on the base model: weights are a version number (a hash of everything that changed them), the
// optimizer a step counter; gradients accumulate between optim_steps as SkyRL's do.

export interface ModelState {
  id: string;
  sessionId: string;
  baseModel: string;
  rank: number;
  loraSeed: number;
  /** False before create_model has executed, after unload_model, or after eviction. */
  loaded: boolean;
  created: boolean;
  weightsVersion: number;
  optimizerSteps: number;
  optimStepCalls: number;
  accumulated: AccumulatedDatum[];
  forwardBackwardCalls: number;
  gradientHash: number;
  lastUsed: number;
}

export interface OptimStepRecord {
  modelId: string;
  /** The model's optimizer step count after this step. */
  optimizerStep: number;
  reduction: Reduction;
  learningRate: number;
  datums: EffectiveDatumWeights[];
}

export function baseWeightsVersion(baseModel: string): number {
  return mixInts(hashString(baseModel));
}

export class ModelRegistry {
  private readonly models = new Map<string, ModelState>();
  private created = 0;
  private clock = 0;
  totalOptimStepCalls = 0;
  lastOptimStep: OptimStepRecord | undefined;
  private readonly lastStepByModel = new Map<string, OptimStepRecord>();

  constructor(
    private readonly options: {
      seed: number;
      name: string;
      reduction: Reduction;
      maxLoadedModels: number;
      /** Doubles started on the same checkpoint store before this one (CheckpointStore.startIncarnation). */
      incarnation: number;
    },
    private readonly checkpoints: CheckpointStore,
  ) {}

  /** create_model's submission: the id exists at once (SkyRL writes the row), the weights once it executes. */
  register(args: { sessionId: string; baseModel: string; rank: number; loraSeed: number }): ModelState {
    const { seed, name, incarnation } = this.options;
    const counter = ++this.created;
    const hash = incarnation === 0 ? mixInts(seed, counter) : mixInts(seed, counter, incarnation);
    const hex = hash.toString(16).padStart(8, '0');
    const id = name ? `model_${name}_${hex}` : `model_${hex}`;
    const model: ModelState = {
      id,
      ...args,
      loaded: false,
      created: false,
      weightsVersion: 0,
      optimizerSteps: 0,
      optimStepCalls: 0,
      accumulated: [],
      forwardBackwardCalls: 0,
      gradientHash: 0,
      lastUsed: 0,
    };
    this.models.set(id, model);
    return model;
  }

  /** The model, or SkyRL's 404 for an id it never created. */
  require(modelId: string): ModelState {
    const model = this.models.get(modelId);
    if (!model) throw new DoubleError(404, 'Model not found');
    return model;
  }

  /** The model when its adapter is loaded; otherwise the future fails as SkyRL's engine does. */
  loaded(modelId: string): ModelState {
    const model = this.require(modelId);
    if (!model.loaded) throw new FutureFailure(`Model ${modelId} not loaded`);
    model.lastUsed = ++this.clock;
    return model;
  }

  execCreate(
    modelId: string,
    targets: { train_attn: boolean; train_mlp: boolean; train_unembed: boolean },
  ): { model_id: string; base_model: string; lora_config: object } {
    const model = this.require(modelId);
    this.evictIfFull();
    Object.assign(model, {
      loaded: true,
      created: true,
      weightsVersion: mixInts(hashString(model.baseModel), model.rank, model.loraSeed),
      lastUsed: ++this.clock,
    });
    return {
      model_id: model.id,
      base_model: model.baseModel,
      lora_config: { rank: model.rank, alpha: 32, seed: model.loraSeed, ...targets },
    };
  }

  private evictIfFull(): void {
    const loaded = [...this.models.values()].filter((m) => m.loaded);
    if (this.options.maxLoadedModels <= 0 || loaded.length < this.options.maxLoadedModels) return;
    const lru = loaded.reduce((a, b) => (a.lastUsed <= b.lastUsed ? a : b));
    lru.loaded = false;
  }

  execUnload(modelId: string): { model_id: string; status: 'unloaded'; type: 'unload_model' } {
    const model = this.require(modelId);
    model.loaded = false;
    model.accumulated = [];
    return { model_id: modelId, status: 'unloaded', type: 'unload_model' };
  }

  /** Adds one forward_backward call's datums to the model's accumulated gradient. */
  accumulate(
    model: ModelState,
    lossFn: string,
    pass: { weights: readonly (readonly number[])[]; gradients: readonly (readonly number[])[] },
    hash: number,
  ): void {
    const call = model.forwardBackwardCalls++;
    pass.weights.forEach((weights, index) =>
      model.accumulated.push({ call, index, lossFn, weights, gradient: pass.gradients[index] ?? [] }),
    );
    model.gradientHash = mixInts(model.gradientHash, hash);
  }

  execOptimStep(modelId: string, learningRate: number): Record<string, number> {
    const model = this.loaded(modelId);
    const record: OptimStepRecord = {
      modelId,
      optimizerStep: model.optimizerSteps + 1,
      reduction: this.options.reduction,
      learningRate,
      datums: effectiveWeights(this.options.reduction, model.accumulated),
    };
    // Adam with no gradient leaves the weights as they are; the step count still advances.
    if (model.accumulated.length > 0) {
      model.weightsVersion = mixInts(
        model.weightsVersion,
        model.gradientHash,
        Math.round(learningRate * 1e12),
      );
    }
    const gradNorm = model.accumulated.length ? 0.05 + (model.gradientHash % 1000) / 1000 : 0;
    Object.assign(model, {
      optimizerSteps: record.optimizerStep,
      accumulated: [],
      forwardBackwardCalls: 0,
      gradientHash: 0,
    });
    model.optimStepCalls++;
    this.totalOptimStepCalls++;
    this.lastOptimStep = record;
    this.lastStepByModel.set(modelId, record);
    return { 'skyrl.ai/grad_norm': gradNorm, 'skyrl.ai/learning_rate': learningRate };
  }

  execSave(kind: CheckpointKind, modelId: string, name: string): string {
    const model = this.loaded(modelId);
    const path = checkpointPath(kind, modelId, name);
    const { baseModel, rank, weightsVersion, optimizerSteps } = model;
    this.checkpoints.save({ path, kind, modelId, name, baseModel, rank, weightsVersion, optimizerSteps });
    return path;
  }

  execLoad(modelId: string, checkpoint: Checkpoint, withOptimizer: boolean): void {
    const model = this.loaded(modelId);
    if (checkpoint.rank !== model.rank) {
      throw new FutureFailure(`checkpoint rank ${checkpoint.rank} does not match model rank ${model.rank}`);
    }
    model.weightsVersion = checkpoint.weightsVersion;
    model.optimizerSteps = withOptimizer ? checkpoint.optimizerSteps : 0;
    model.accumulated = [];
    model.gradientHash = 0;
  }

  lastStep(modelId?: string): OptimStepRecord | undefined {
    return modelId === undefined ? this.lastOptimStep : this.lastStepByModel.get(modelId);
  }

  summary() {
    const models = Object.fromEntries(
      [...this.models.values()].map((m) => [
        m.id,
        { optimizerSteps: m.optimizerSteps, optimStepCalls: m.optimStepCalls, loaded: m.loaded },
      ]),
    );
    return { totalOptimStepCalls: this.totalOptimStepCalls, models };
  }
}
