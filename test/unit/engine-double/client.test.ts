import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EngineDouble } from '../../../engine-double/server.js';
import type { TinkerClient } from '../../../engine/tinker.js';
import {
  answersEquivalent,
  extractBoxed,
  generateBuiltinDataset,
  leakedTokens,
  metaExperienceMessagesFor,
  parseMetaExperience,
  renderGenerationPrompt,
  rolloutMessages,
  validationMessages,
  verifyTrustedSolution,
} from '../../../mel/index.js';
import { BASE_MODEL, EOS, clientFor, completionDatum, startDouble, tokenizer } from './helpers.js';

const problems = generateBuiltinDataset({ count: 12 });
const contrast = (problem: { question: string }) => ({
  question: problem.question,
  incorrectSolution: 'a',
  correctSolution: 'b',
});
const rolloutPrompt = (i: number) => tokenizer.encode(renderGenerationPrompt(rolloutMessages(problems[i]!)));
const text = (tokens: readonly number[]) =>
  tokenizer.decode(tokens.at(-1) === EOS ? tokens.slice(0, -1) : tokens);

async function freshPolicy(client: TinkerClient, name = 'init') {
  const modelId = await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 8, seed: 1 });
  const sampler = await client.saveWeightsForSampler({ modelId, name });
  return { modelId, sampler };
}

describe('engine double through the project Tinker client', () => {
  let double: EngineDouble;
  let client: TinkerClient;

  beforeAll(async () => {
    double = await startDouble();
    client = clientFor(double);
  });
  afterAll(() => double.close());

  it('answers health, capabilities and describe', async () => {
    expect(await client.healthy()).toBe(true);
    expect(await client.supportedModels()).toEqual([BASE_MODEL]);
    expect(await client.describe()).toMatchObject({ kind: 'tinker', servedModels: [BASE_MODEL] });
  });

  it('creates, trains, saves, loads, samples and unloads', async () => {
    const { modelId, sampler } = await freshPolicy(client);
    expect(modelId).toMatch(/^model_[0-9a-f]{8}$/);
    expect(sampler).toBe(`tinker://${modelId}/init`);
    const prompt = rolloutPrompt(0);
    const sequences = await client.sample({
      sampler,
      promptTokens: prompt,
      numSamples: 3,
      maxTokens: 96,
      seed: 5,
      stopTokens: [EOS],
    });
    expect(sequences).toHaveLength(3);
    for (const sequence of sequences) {
      expect(sequence).toMatchObject({ stopReason: 'stop' });
      expect(sequence.tokens.at(-1)).toBe(EOS);
      expect(sequence.logprobs).toHaveLength(sequence.tokens.length);
      expect(sequence.logprobs.every((l) => l < 0)).toBe(true);
    }
    expect(
      await client.sample({ promptTokens: prompt, numSamples: 1, maxTokens: 96, seed: 5, stopTokens: [EOS] }),
    ).toHaveLength(1);

    const datum = completionDatum(prompt, sequences[0]!.tokens);
    const forward = await client.forward({ modelId, data: [datum] });
    const n = datum.loss_fn_inputs.target_tokens.data.length;
    expect(forward.perDatum[0]!.logprobs).toHaveLength(n);
    // Same weights: the forward logprobs of the sampled tokens are the sampler's.
    expect(forward.perDatum[0]!.logprobs.slice(prompt.length - 1)).toEqual(sequences[0]!.logprobs);
    for (const fn of ['cross_entropy', 'importance_sampling', 'ppo', 'cispo'] as const) {
      const withRl = completionDatum(prompt, sequences[0]!.tokens, {
        logprobs: { data: Array(n).fill(-1), dtype: 'float32' },
        advantages: { data: Array(n).fill(0.5), dtype: 'float32' },
      });
      const output = await client.forwardBackward({ modelId, data: [withRl, datum], loss: { fn } });
      expect(output.perDatum.map((d) => d.elementwiseLoss.length)).toEqual([n, n]);
      expect(new Set(output.perDatum[0]!.elementwiseLoss).size).toBeGreaterThan(2);
      expect(output.metrics).toEqual({});
    }
    expect(await client.optimStep({ modelId, adam: { learningRate: 1e-4 } })).toMatchObject({
      'skyrl.ai/learning_rate': 1e-4,
    });
    const state = await client.saveState({ modelId, name: 'after' });
    expect(state).toBe(`tinker://${modelId}/weights/after`);
    const copy = await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 8 });
    await client.loadState({ modelId: copy, path: state });
    await client.unloadModel(copy);
    await client.unloadModel(modelId);
    await expect(
      client.sample({ sampler, promptTokens: prompt, numSamples: 1, maxTokens: 8 }),
    ).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/not loaded/),
    });
  });

  it('answers unknown models with 404 and bad checkpoint paths with 400', async () => {
    await expect(
      client.optimStep({ modelId: 'model_nope', adam: { learningRate: 1 } }),
    ).rejects.toMatchObject({ status: 404 });
    const modelId = await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 4 });
    await expect(client.loadState({ modelId, path: 'tinker://x/y' })).rejects.toMatchObject({ status: 400 });
    await expect(
      client.loadState({ modelId, path: `tinker://${modelId}/weights/none` }),
    ).rejects.toMatchObject({ status: 404 });
  });

  it('caps a completion at max_tokens with stop reason "length", and runs on without a stop token', async () => {
    const [capped] = await client.sample({
      promptTokens: rolloutPrompt(1),
      numSamples: 1,
      maxTokens: 5,
      seed: 1,
      stopTokens: [EOS],
    });
    expect(capped).toMatchObject({ stopReason: 'length' });
    expect(capped!.tokens).toHaveLength(5);
    const [runOn] = await client.sample({
      promptTokens: rolloutPrompt(1),
      numSamples: 1,
      maxTokens: 120,
      seed: 1,
    });
    expect(runOn).toMatchObject({ stopReason: 'length' });
    expect(runOn!.tokens).toHaveLength(120);
  });
});

describe('what the double samples', () => {
  let double: EngineDouble | undefined;
  afterEach(async () => {
    await double?.close();
    double = undefined;
  });

  async function sampleAll(options: Parameters<typeof startDouble>[0], prompts: number[][], numSamples = 2) {
    double = await startDouble(options);
    const client = clientFor(double);
    const { sampler } = await freshPolicy(client);
    const runs = prompts.map((promptTokens) =>
      client.sample({ sampler, promptTokens, numSamples, maxTokens: 300, seed: 11, stopTokens: [EOS] }),
    );
    return (await Promise.all(runs)).map((sequences) => sequences.map((s) => text(s.tokens)));
  }

  it('is deterministic for a seed, whatever the order of requests, and differs with another seed', async () => {
    const prompts = problems.slice(0, 6).map((_, i) => rolloutPrompt(i));
    const first = await sampleAll({ seed: 3 }, prompts);
    await double!.close();
    const reversed = (await sampleAll({ seed: 3 }, [...prompts].reverse())).reverse();
    await double!.close();
    const other = await sampleAll({ seed: 4 }, prompts);
    expect(reversed).toEqual(first);
    expect(other).not.toEqual(first);
  });

  it('pCorrect 1: every rollout verifies; pCorrect 0: none does', async () => {
    const prompts = problems.map((_, i) => rolloutPrompt(i));
    const right = await sampleAll({ pCorrect: 1 }, prompts);
    expect(
      right.every((group, i) => group.every((t) => verifyTrustedSolution(t, problems[i]!.answer).correct)),
    ).toBe(true);
    await double!.close();
    const wrong = await sampleAll({ pCorrect: 0 }, prompts);
    expect(
      wrong.some((group, i) => group.some((t) => verifyTrustedSolution(t, problems[i]!.answer).correct)),
    ).toBe(false);
  });

  it('reflections parse when pUnparseable is 0, never leak, and replays follow pReplayCorrect', async () => {
    const reflectionPrompts = problems.map((problem) =>
      tokenizer.encode(renderGenerationPrompt(metaExperienceMessagesFor('compact', contrast(problem)))),
    );
    const reflections = await sampleAll({ pUnparseable: 0, pTruncated: 0 }, reflectionPrompts, 1);
    reflections.forEach(([reflection], i) => {
      const parsed = parseMetaExperience(reflection!);
      expect(parsed.ok).toBe(true);
      expect(leakedTokens(reflection!, problems[i]!)).toEqual([]);
      expect(reflection).not.toContain(problems[i]!.answer);
    });
    await double!.close();
    const replayPrompts = problems.map((problem, i) =>
      tokenizer.encode(renderGenerationPrompt(validationMessages(reflections[i]![0]!, problem))),
    );
    const replays = await sampleAll({ pReplayCorrect: 1, pCorrect: 0 }, replayPrompts, 1);
    expect(replays.every(([t], i) => verifyTrustedSolution(t!, problems[i]!.answer).correct)).toBe(true);
  });

  it('pStatesAnswer 1: every reflection still parses and boxes the answer in its analysis', async () => {
    const reflectionPrompts = problems.map((problem) =>
      tokenizer.encode(renderGenerationPrompt(metaExperienceMessagesFor('compact', contrast(problem)))),
    );
    const reflections = await sampleAll(
      { pUnparseable: 0, pTruncated: 0, pStatesAnswer: 1 },
      reflectionPrompts,
      1,
    );
    reflections.forEach(([reflection], i) => {
      const parsed = parseMetaExperience(reflection!);
      if (!parsed.ok) throw new Error(parsed.reason);
      expect(parsed.metaExperience.critique).toContain('\\boxed{');
      expect(answersEquivalent(extractBoxed(reflection!)!, problems[i]!.answer)).toBe(true);
    });
  });

  it('pUnparseable 1 gives no parseable reflection; pTruncated 1 cuts every one with stop reason "length"', async () => {
    const prompt = tokenizer.encode(
      renderGenerationPrompt(
        metaExperienceMessagesFor('appendix-c', {
          question: problems[0]!.question,
          incorrectSolution: 'a',
          correctSolution: 'b',
        }),
      ),
    );
    const unparseable = await sampleAll({ pUnparseable: 1, pTruncated: 0 }, [prompt], 4);
    expect(unparseable[0]!.some((t) => parseMetaExperience(t).ok)).toBe(false);
    await double!.close();
    double = await startDouble({ pTruncated: 1 });
    const client = clientFor(double);
    const sequences = await client.sample({
      promptTokens: prompt,
      numSamples: 3,
      maxTokens: 300,
      seed: 1,
      stopTokens: [EOS],
    });
    expect(sequences.map((s) => s.stopReason)).toEqual(['length', 'length', 'length']);
  });
});
