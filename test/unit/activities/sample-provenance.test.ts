/**
 * Several engines per run: samples record their engine and policy, the policy update refuses samples of another
 * policy, and a worker whose engine did not save the policy samples a copy restored on its own engine.
 */
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { sampleWithPolicy } from '../../../activities/policy.js';
import { assertSampledFrom, offPolicySamples, sampledBy } from '../../../activities/sample-provenance.js';
import type { MelActivityDeps } from '../../../activities/support.js';
import { EngineError, type SampleRequest } from '../../../engine/engine.js';
import type { PolicyRef } from '../../../temporal/contracts/common.js';

function policy(step: number, engine = 'engine-a'): PolicyRef {
  return {
    modelId: `model-${step}`,
    statePath: `tinker://model-${step}/weights/run-step-${step}`,
    samplerPath: `tinker://model-${step}/run-step-${step}`,
    updates: step,
    rank: 8,
    engine,
  };
}

describe('the policy update’s check of its samples', () => {
  const start = policy(3);

  it('accepts samples of the policy it starts from, from any engine and any restored copy of it', () => {
    const samples = [
      { _id: 'p0/s0', sampledBy: sampledBy('engine-a', start) },
      { _id: 'p0/s1', sampledBy: sampledBy('engine-b', { ...start, samplerPath: 'tinker://copy/restored' }) },
      { _id: 'written-by-a-reflector' },
    ];
    expect(offPolicySamples(samples, start)).toEqual([]);
    expect(() => assertSampledFrom(samples, start, 'the update')).not.toThrow();
  });

  it('refuses, non-retryably, samples of another policy, naming them, their engine and their policy', () => {
    const stale = policy(2);
    const samples = [
      { _id: 'p0/s0', sampledBy: sampledBy('engine-a', start) },
      { _id: 'p0/s1', sampledBy: sampledBy('engine-b', stale) },
    ];
    expect(offPolicySamples(samples, start).map((s) => s._id)).toEqual(['p0/s1']);
    let thrown: unknown;
    try {
      assertSampledFrom(samples, start, 'the policy update of step 3');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ApplicationFailure);
    const failure = thrown as ApplicationFailure;
    expect(failure.nonRetryable).toBe(true);
    expect(failure.type).toBe('OffPolicySamples');
    expect(failure.message).toContain(start.statePath);
    expect(failure.message).toContain(`p0/s1 (engine engine-b, policy ${stale.statePath})`);
    expect(failure.message).toContain('1 of the 2 samples');
  });
});

/** An engine that knows only the samplers it saved itself, and counts its restores. */
class OneEngine {
  readonly samplers = new Set<string>();
  restores = 0;
  sampled: string[] = [];
  private models = 0;

  async createTrainingModel(): Promise<string> {
    await Promise.resolve();
    return `local-${++this.models}`;
  }
  async loadState(): Promise<void> {
    this.restores++;
    await Promise.resolve();
  }
  async saveWeightsForSampler({ modelId, name }: { modelId: string; name: string }): Promise<string> {
    const path = `tinker://${modelId}/${name}`;
    this.samplers.add(path);
    return path;
  }
  async unloadModel(): Promise<void> {}
  async sample({ sampler = '' }: SampleRequest) {
    if (!this.samplers.has(sampler))
      throw new EngineError('Model not found', { retryable: false, status: 404 });
    this.sampled.push(sampler);
    return [{ stopReason: 'stop' as const, tokens: [1], logprobs: [-1] }];
  }
}

function depsOn(engineId: string, engine: OneEngine): MelActivityDeps {
  const tokenizer = { encode: () => [], decode: () => '', eosTokenId: 2 };
  return { engine, engineId, tokenizer, baseModel: 'base' } as unknown as MelActivityDeps;
}

describe('sampling a policy saved on another engine', () => {
  const request = { promptTokens: [5], numSamples: 1, maxTokens: 4, temperature: 1, seed: 1 };

  it('restores it once on the worker’s own engine, shared by concurrent activities, and never sends the foreign sampler', async () => {
    const engine = new OneEngine();
    const saved = policy(5, 'training-engine');
    const deps = depsOn(`engine-b-${Math.random()}`, engine);
    const results = await Promise.all([1, 2, 3].map(() => sampleWithPolicy(deps, saved, request)));
    expect(engine.restores).toBe(1);
    const [restored] = [...engine.samplers];
    expect(results.map((r) => r.samplerPath)).toEqual([restored, restored, restored]);
    expect(engine.sampled).not.toContain(saved.samplerPath);
    await sampleWithPolicy(deps, saved, request);
    expect(engine.restores).toBe(1);
  });

  it('samples the policy’s own sampler on the engine that saved it', async () => {
    const engine = new OneEngine();
    const saved = policy(6, 'engine-a');
    engine.samplers.add(saved.samplerPath);
    const result = await sampleWithPolicy(depsOn('engine-a', engine), saved, request);
    expect(result.samplerPath).toBe(saved.samplerPath);
    expect(engine.restores).toBe(0);
  });

  it('keeps restored copies apart per engine in one process', async () => {
    const [b, c] = [new OneEngine(), new OneEngine()];
    const saved = policy(7, 'engine-a');
    const id = Math.random();
    await sampleWithPolicy(depsOn(`b-${id}`, b), saved, request);
    await sampleWithPolicy(depsOn(`c-${id}`, c), saved, request);
    expect([b.restores, c.restores]).toEqual([1, 1]);
  });
});
