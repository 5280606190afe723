import type { TrainingEngine } from '../engine/engine.js';
import type { PolicyRef } from '../temporal/contracts/common.js';

type RestoreEngine = Pick<
  TrainingEngine,
  'createTrainingModel' | 'loadState' | 'saveWeightsForSampler' | 'unloadModel'
>;

interface RestoredSampler {
  samplerPath: string;
  modelId: string;
}

/**
 * Copies of policies restored into fresh engine models (after an engine restart lost them), by state path.
 * Concurrent activities share one restore; each copy holds an engine slot, so only the newest `capacity` stay
 * loaded (the current step's policy and the one before it are all that sample).
 */
export class RestoredSamplers {
  private readonly byStatePath = new Map<string, Promise<RestoredSampler>>();

  constructor(
    private readonly capacity: number,
    private readonly onUnloadError: (error: unknown) => void = () => undefined,
  ) {}

  get size(): number {
    return this.byStatePath.size;
  }

  /** The sampler of a finished restore of this policy, if any. */
  async known(policy: PolicyRef): Promise<string | undefined> {
    return (await this.byStatePath.get(policy.statePath)?.catch(() => undefined))?.samplerPath;
  }

  forget(policy: PolicyRef): void {
    this.byStatePath.delete(policy.statePath);
  }

  /** The policy's sampler in a restored copy: restored now, or shared with a restore already under way. */
  async restore(engine: RestoreEngine, baseModel: string, policy: PolicyRef): Promise<string> {
    const { statePath } = policy;
    const shared = this.byStatePath.get(statePath);
    // A shared restore fails also when the activity attempt that started it ends first (its calls are aborted):
    // then this caller restores on its own.
    const restored = shared && (await shared.catch(() => undefined));
    if (restored) return restored.samplerPath;
    let restoring = this.byStatePath.get(statePath);
    if (!restoring) {
      const started = restoreCopy(engine, baseModel, policy);
      started.catch(() => this.byStatePath.get(statePath) === started && this.byStatePath.delete(statePath));
      this.byStatePath.set(statePath, started);
      restoring = started;
      await this.evict(engine);
    }
    return (await restoring).samplerPath;
  }

  private async evict(engine: RestoreEngine): Promise<void> {
    while (this.byStatePath.size > this.capacity) {
      const [statePath, oldest] = this.byStatePath.entries().next().value as [
        string,
        Promise<RestoredSampler>,
      ];
      this.byStatePath.delete(statePath);
      const restored = await oldest.catch(() => undefined);
      if (restored) await engine.unloadModel(restored.modelId).catch(this.onUnloadError);
    }
  }
}

async function restoreCopy(
  engine: RestoreEngine,
  baseModel: string,
  policy: PolicyRef,
): Promise<RestoredSampler> {
  const modelId = await engine.createTrainingModel({ baseModel, rank: policy.rank });
  try {
    await engine.loadState({ modelId, path: policy.statePath });
    const samplerPath = await engine.saveWeightsForSampler({ modelId, name: `restored-${Date.now()}` });
    return { samplerPath, modelId };
  } catch (error) {
    await engine.unloadModel(modelId).catch(() => undefined);
    throw error;
  }
}
