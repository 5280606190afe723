import { describe, expect, it } from 'vitest';
import { RestoredSamplers } from '../../../activities/restored-samplers.js';
import type { PolicyRef } from '../../../temporal/contracts/common.js';

/** An engine that keeps count of loaded models; `failLoads` makes loadState reject. */
class FakeEngine {
  readonly loaded = new Set<string>();
  created = 0;
  failLoads = false;
  /** Loads that fail before loads succeed again (an attempt whose calls were aborted). */
  failingLoads = 0;

  async createTrainingModel(): Promise<string> {
    const id = `model-${++this.created}`;
    this.loaded.add(id);
    await Promise.resolve();
    return id;
  }

  async loadState(args: { modelId: string; path: string }): Promise<void> {
    await Promise.resolve();
    if (this.failLoads || this.failingLoads-- > 0) throw new Error(`cannot load ${args.path}`);
  }

  async saveWeightsForSampler(args: { modelId: string; name: string }): Promise<string> {
    return `tinker://${args.modelId}/${args.name}`;
  }

  async unloadModel(modelId: string): Promise<void> {
    this.loaded.delete(modelId);
  }
}

function policy(step: number): PolicyRef {
  const statePath = `tinker://original/weights/run-step-${step}`;
  return {
    modelId: 'original',
    statePath,
    samplerPath: `tinker://original/run-step-${step}`,
    updates: step,
    rank: 8,
  };
}

describe('restored policy samplers', () => {
  it('restores a policy once for concurrent callers and remembers its sampler', async () => {
    const engine = new FakeEngine();
    const samplers = new RestoredSamplers(2);
    const [a, b] = await Promise.all([
      samplers.restore(engine, 'base', policy(0)),
      samplers.restore(engine, 'base', policy(0)),
    ]);
    expect(a).toBe(b);
    expect(engine.created).toBe(1);
    expect(a).toMatch(/^tinker:\/\/model-1\/restored-/);
    expect(await samplers.known(policy(0))).toBe(a);
    expect(await samplers.known(policy(1))).toBeUndefined();
  });

  it('keeps only the newest copies loaded, unloading the oldest', async () => {
    const engine = new FakeEngine();
    const samplers = new RestoredSamplers(2);
    for (const step of [0, 1, 2, 3]) await samplers.restore(engine, 'base', policy(step));
    expect(engine.created).toBe(4);
    expect([...engine.loaded].sort()).toEqual(['model-3', 'model-4']);
    expect(samplers.size).toBe(2);
    expect(await samplers.known(policy(0))).toBeUndefined();
    expect(await samplers.known(policy(3))).toMatch(/model-4/);
  });

  it('forgets a failed restore so that the next attempt tries again, and a forgotten copy is restored anew', async () => {
    const engine = new FakeEngine();
    const samplers = new RestoredSamplers(2);
    engine.failLoads = true;
    await expect(samplers.restore(engine, 'base', policy(0))).rejects.toThrow(/cannot load/);
    expect(samplers.size).toBe(0);
    expect(engine.loaded.size).toBe(0);
    engine.failLoads = false;
    const first = await samplers.restore(engine, 'base', policy(0));
    samplers.forget(policy(0));
    const second = await samplers.restore(engine, 'base', policy(0));
    expect(second).not.toBe(first);
  });

  it('restores on its own when a restore it shared fails for the activity that started it', async () => {
    const engine = new FakeEngine();
    const samplers = new RestoredSamplers(2);
    engine.failingLoads = 1;
    const [starter, sharer] = await Promise.allSettled([
      samplers.restore(engine, 'base', policy(0)),
      samplers.restore(engine, 'base', policy(0)),
    ]);
    expect(starter.status).toBe('rejected');
    expect(sharer).toEqual({ status: 'fulfilled', value: expect.stringMatching(/^tinker:\/\/model-2\//) });
    expect([...engine.loaded]).toEqual(['model-2']);
  });
});
