import { beforeAll, describe, expect, it } from 'vitest';
import { EngineError, type AdamParams, type Datum } from '../../engine/engine.js';
import type { ModelTokenizer } from '../../engine/model-files.js';
import {
  GROUP_SIZE,
  LORA_RANK,
  MAX_TOKENS,
  baseModel,
  completionDatum,
  completionLogprobs,
  groupRequest,
  modelFactory,
  promptTokens,
  sum,
  tinkerClient,
  tinyTokenizer,
} from './engine-helpers.js';

const engine = tinkerClient();
const newModel = modelFactory(engine);
const ADAM: AdamParams = { learningRate: 5e-3 };
// Policy-gradient checks test the direction of one step: a small step stays in the first-order regime (a large
// Adam step on an already likely sequence can overshoot either way).
const SMALL_STEP: AdamParams = { learningRate: 2e-4 };

describe('Tinker engine on the real SkyRL server', () => {
  let tokenizer: ModelTokenizer;
  let prompt: number[];
  let target: Datum;

  beforeAll(async () => {
    tokenizer = await tinyTokenizer();
    prompt = promptTokens(tokenizer);
    target = completionDatum({ prompt, completion: tokenizer.encode('2 + 3 = 5<|im_end|>') });
  });

  async function trainOnTarget(modelId: string, seqIds: { fb?: number; optim?: number } = {}) {
    const output = await engine.forwardBackward({
      modelId,
      data: [target],
      loss: { fn: 'cross_entropy' },
      seqId: seqIds.fb,
    });
    const metrics = await engine.optimStep({ modelId, adam: ADAM, seqId: seqIds.optim });
    return { output, metrics };
  }

  it('samples G completions with token ids and the logprobs of exactly those tokens', async () => {
    const modelId = await newModel(1);
    const sampler = await engine.saveWeightsForSampler({ modelId, name: 'initial' });
    const group = await engine.sample({ sampler, ...groupRequest(tokenizer, 11) });

    expect(group).toHaveLength(GROUP_SIZE);
    for (const sequence of group) {
      expect(sequence.tokens.length).toBeGreaterThan(0);
      expect(sequence.tokens.length).toBeLessThanOrEqual(MAX_TOKENS);
      expect(sequence.logprobs).toHaveLength(sequence.tokens.length);
      expect(sequence.stopReason).toBe(sequence.tokens.at(-1) === tokenizer.eosTokenId ? 'stop' : 'length');
      // The sampler's logprobs are the model's own logprobs of those tokens at those positions.
      const modelLogprobs = await completionLogprobs(
        engine,
        modelId,
        completionDatum({ prompt, completion: sequence.tokens }),
      );
      sequence.logprobs.forEach((logprob, i) => expect(logprob).toBeCloseTo(modelLogprobs[i]!, 4));
    }
    expect(new Set(group.map((sequence) => sequence.tokens.join(','))).size).toBeGreaterThan(1);
  });

  it('a cross_entropy forward_backward and optim_step lowers the NLL of a fixed target sequence', async () => {
    const modelId = await newModel(2);
    const before = await completionLogprobs(engine, modelId, target);
    const { output, metrics } = await trainOnTarget(modelId);
    const after = await completionLogprobs(engine, modelId, target);

    // forward_backward reports the logprobs it took the gradient at: the weights before the step.
    const weights = target.loss_fn_inputs.weights!.data;
    const reported = output.perDatum[0]!.logprobs.filter((_, i) => weights[i] !== 0);
    // Two code paths (forward_backward vs forward) agree to float32 noise.
    reported.forEach((logprob, i) => expect(logprob).toBeCloseTo(before[i]!, 4));
    expect(Object.keys(metrics).length).toBeGreaterThan(0);
    console.info(`target NLL before ${-sum(before)}, after one step ${-sum(after)}`);
    expect(-sum(after)).toBeLessThan(-sum(before) - 0.1);
  });

  async function policyGradientStep(
    seed: number,
    advantage: number,
    loss: Parameters<typeof engine.forwardBackward>[0]['loss'],
  ) {
    const modelId = await newModel(seed);
    const sampler = await engine.saveWeightsForSampler({ modelId, name: 'rollout' });
    const [sampled] = await engine.sample({
      sampler,
      promptTokens: prompt,
      numSamples: 1,
      maxTokens: MAX_TOKENS,
      seed,
      stopTokens: [tokenizer.eosTokenId],
    });
    const datum = completionDatum({
      prompt,
      completion: sampled!.tokens,
      samplerLogprobs: sampled!.logprobs,
      advantage,
    });
    const before = sum(await completionLogprobs(engine, modelId, datum));
    await engine.forwardBackward({ modelId, data: [datum], loss });
    await engine.optimStep({ modelId, adam: SMALL_STEP });
    const after = sum(await completionLogprobs(engine, modelId, datum));
    console.info(`${loss.fn}, advantage ${advantage}: sampled-token logprob ${before} -> ${after}`);
    return { before, after };
  }

  it('an importance_sampling step with a positive advantage raises the logprob of the sampled tokens', async () => {
    const { before, after } = await policyGradientStep(3, 1, { fn: 'importance_sampling' });
    expect(after).toBeGreaterThan(before + 0.01);
  });

  it('a ppo step with clip thresholds and a negative advantage lowers the logprob of the sampled tokens', async () => {
    const { before, after } = await policyGradientStep(4, -1, {
      fn: 'ppo',
      clipLowThreshold: 0.8,
      clipHighThreshold: 1.2,
    });
    expect(after).toBeLessThan(before - 0.01);
  });

  it('has no delete route, so checkpoints.keepLast can only report that it cannot prune', async () => {
    const model = await newModel(7);
    const state = await engine.saveState({ modelId: model, name: 'kept_for_good' });
    const sampler = await engine.saveWeightsForSampler({ modelId: model, name: 'kept_for_good' });
    expect(await engine.deleteCheckpoint(state)).toBe('unsupported');
    expect(await engine.deleteCheckpoint(sampler)).toBe('unsupported');
    await engine.loadState({ modelId: await newModel(8), path: state }); // still there
  });

  it('save_state then load_state restores identical logprobs and the optimizer state', async () => {
    const trained = await newModel(5);
    await trainOnTarget(trained);
    const path = await engine.saveState({ modelId: trained, name: 'after_one_step' });
    const trainedLogprobs = await completionLogprobs(engine, trained, target);

    const restored = await newModel(6);
    await engine.loadState({ modelId: restored, path });
    expect(await completionLogprobs(engine, restored, target)).toEqual(trainedLogprobs);

    // Adam's step depends on its moment estimates: identical next steps prove they were restored too.
    await trainOnTarget(trained);
    await trainOnTarget(restored);
    const next = await completionLogprobs(engine, trained, target);
    expect(next).not.toEqual(trainedLogprobs);
    expect(await completionLogprobs(engine, restored, target)).toEqual(next);
  });

  it('a retried forward_backward and optim_step with the same seq_ids is applied once', async () => {
    const modelId = await newModel(7);
    const initial = await completionLogprobs(engine, modelId, target);
    const first = await trainOnTarget(modelId, { fb: 1, optim: 2 });
    const afterOnce = await completionLogprobs(engine, modelId, target);
    expect(afterOnce).not.toEqual(initial);

    const retried = await trainOnTarget(modelId, { fb: 1, optim: 2 });
    expect(retried).toEqual(first);
    expect(await completionLogprobs(engine, modelId, target)).toEqual(afterOnce);

    const reused = engine.optimStep({ modelId, adam: { learningRate: 1e-3 }, seqId: 2 });
    await expect(reused).rejects.toMatchObject({ name: 'EngineError', retryable: false, status: 409 });
    expect(await completionLogprobs(engine, modelId, target)).toEqual(afterOnce);
  });

  it('unloading a model frees it: later calls on it fail with a non-retryable EngineError', async () => {
    const modelId = await engine.createTrainingModel({ baseModel, rank: LORA_RANK, seed: 8 });
    await engine.unloadModel(modelId);
    const error = await engine.forward({ modelId, data: [target] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).retryable).toBe(false);
  });
});
