import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineDouble } from '../../../engine-double/server.js';
import type { TimelineReport } from '../../../engine-double/latency.js';
import type { OptimStepRecord } from '../../../engine-double/models.js';
import type { TinkerClient } from '../../../engine/tinker.js';
import { generateBuiltinDataset, renderGenerationPrompt, rolloutMessages } from '../../../mel/index.js';
import { BASE_MODEL, EOS, clientFor, completionDatum, getJson, startDouble, tokenizer } from './helpers.js';

const problem = generateBuiltinDataset({ count: 1 })[0]!;
const prompt = tokenizer.encode(renderGenerationPrompt(rolloutMessages(problem)));
const adam = { learningRate: 1e-4 };

interface OptimizerSteps {
  totalOptimStepCalls: number;
  models: Record<string, { optimizerSteps: number; optimStepCalls: number; loaded: boolean }>;
}

let double: EngineDouble | undefined;
afterEach(async () => {
  await double?.close();
  double = undefined;
});

async function setUp(options: Parameters<typeof startDouble>[0] = {}, tuning = {}) {
  double = await startDouble(options);
  return { double, client: clientFor(double, tuning) };
}

async function trainOnce(client: TinkerClient, modelId: string, seqId?: number) {
  const data = [completionDatum(prompt, tokenizer.encode('The answer is 1.'))];
  await client.forwardBackward({ modelId, data, loss: { fn: 'cross_entropy' } });
  await client.optimStep({ modelId, adam, ...(seqId === undefined ? {} : { seqId }) });
}

const steps = (d: EngineDouble) => getJson<OptimizerSteps>(d, '/double/v1/optimizer-steps');
const sampleOnce = (client: TinkerClient, sampler: string) =>
  client.sample({ sampler, promptTokens: prompt, numSamples: 2, maxTokens: 96, seed: 9, stopTokens: [EOS] });

describe('engine double model state', () => {
  it('counts each optim_step exactly once, and a restored model continues the count', async () => {
    const { double, client } = await setUp();
    const modelId = await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 8 });
    await trainOnce(client, modelId, 1);
    await client.optimStep({ modelId, adam, seqId: 1 }); // same seq_id, same body: the client polls the first future
    await trainOnce(client, modelId, 2);
    expect((await steps(double)).models[modelId]).toMatchObject({ optimizerSteps: 2, optimStepCalls: 2 });
    const state = await client.saveState({ modelId, name: 'two' });

    const restored = await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 8 });
    await client.loadState({ modelId: restored, path: state });
    await trainOnce(client, restored);
    const after = await steps(double);
    expect(after.models[restored]).toMatchObject({ optimizerSteps: 3, optimStepCalls: 1 });
    expect(after.totalOptimStepCalls).toBe(3);
  });

  it('never gives a model id of a double that ran before on the same checkpoint store to another model', async () => {
    const checkpointDir = await mkdtemp(path.join(os.tmpdir(), 'double-incarnations-'));
    const firstIds = async () => {
      const { double, client } = await setUp({ checkpointDir });
      const ids = [
        await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 8 }),
        await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 8 }),
      ];
      await double.close();
      return ids;
    };
    try {
      const before = await firstIds();
      const after = await firstIds();
      expect(after.filter((id) => before.includes(id))).toEqual([]);
    } finally {
      await rm(checkpointDir, { recursive: true, force: true });
    }
  });

  it('samples from a saved sampler path as the model did when saved, and a restored copy samples the same', async () => {
    const { client } = await setUp();
    const modelId = await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 8, seed: 2 });
    const before = await client.saveWeightsForSampler({ modelId, name: 'before' });
    const state = await client.saveState({ modelId, name: 'before' });
    const first = await sampleOnce(client, before);
    await trainOnce(client, modelId);
    const after = await client.saveWeightsForSampler({ modelId, name: 'after' });
    expect(await sampleOnce(client, before)).toEqual(first);
    expect((await sampleOnce(client, after)).map((s) => s.logprobs)).not.toEqual(
      first.map((s) => s.logprobs),
    );

    const copy = await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 8 });
    await client.loadState({ modelId: copy, path: state });
    const copySampler = await client.saveWeightsForSampler({ modelId: copy, name: 'restored' });
    expect(await sampleOnce(client, copySampler)).toEqual(first);
  });

  it('doubles that share a checkpoint directory: one restores what another saved, under model ids of its own', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'double-checkpoints-'));
    const other = await startDouble({ name: 'b', checkpointDir: dir });
    try {
      const { client } = await setUp({ name: 'a', checkpointDir: dir });
      const modelId = await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 8, seed: 2 });
      await trainOnce(client, modelId);
      const state = await client.saveState({ modelId, name: 'trained' });
      const first = await sampleOnce(
        client,
        await client.saveWeightsForSampler({ modelId, name: 'trained' }),
      );

      const elsewhere = clientFor(other);
      const copy = await elsewhere.createTrainingModel({ baseModel: BASE_MODEL, rank: 8 });
      expect([modelId, copy]).toEqual([
        expect.stringMatching(/^model_a_/),
        expect.stringMatching(/^model_b_/),
      ]);
      await elsewhere.loadState({ modelId: copy, path: state });
      const copySampler = await elsewhere.saveWeightsForSampler({ modelId: copy, name: 'restored' });
      expect(await sampleOnce(elsewhere, copySampler)).toEqual(first);
    } finally {
      await other.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('records the effective weights of the last step: skyrl normalises per datum and averages', async () => {
    const { double, client } = await setUp();
    const modelId = await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 8 });
    const datum = completionDatum(prompt, tokenizer.encode('ab'));
    const weightSum = datum.loss_fn_inputs.weights!.data.reduce((a, b) => a + b, 0);
    await client.forwardBackward({ modelId, data: [datum, datum], loss: { fn: 'ppo' } });
    await client.forwardBackward({ modelId, data: [datum], loss: { fn: 'cross_entropy' } });
    await client.optimStep({ modelId, adam });
    const record = await getJson<OptimStepRecord>(double, `/double/v1/last-optim-step?model_id=${modelId}`);
    expect(record).toMatchObject({ modelId, optimizerStep: 1, reduction: 'skyrl' });
    expect(record.datums.map((d) => [d.call, d.index, d.lossFn])).toEqual([
      [0, 0, 'ppo'],
      [0, 1, 'ppo'],
      [1, 0, 'cross_entropy'],
    ]);
    expect(record.datums[0]!.scale).toBeCloseTo(1 / (weightSum * 3), 12);
  });

  it('sum reduction (hosted Tinker) keeps raw weights and reports loss:sum', async () => {
    const { double, client } = await setUp({ reduction: 'sum' });
    const modelId = await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 8 });
    const datum = completionDatum(prompt, tokenizer.encode('ab'));
    const output = await client.forwardBackward({ modelId, data: [datum], loss: { fn: 'cross_entropy' } });
    const total = output.perDatum[0]!.elementwiseLoss.reduce((a, b) => a + b, 0);
    expect(output.metrics['loss:sum']).toBeCloseTo(total, 9);
    await client.optimStep({ modelId, adam });
    const record = await getJson<OptimStepRecord>(double, '/double/v1/last-optim-step');
    expect(record.datums[0]!.effective).toEqual(datum.loss_fn_inputs.weights!.data);
  });
});

describe('engine double faults and timing', () => {
  it('a rule fires on the chosen call only', async () => {
    const rule = { route: 'asample', call: 2, action: { type: 'http-status', status: 400 } } as const;
    const { double, client } = await setUp({ faults: [rule] });
    const request = { promptTokens: prompt, numSamples: 1, maxTokens: 32, stopTokens: [EOS] };
    await client.sample(request);
    await expect(client.sample(request)).rejects.toMatchObject({ status: 400, retryable: false });
    await client.sample(request);
    expect(double.stats().requests.asample).toBe(3);
  });

  it('a hung call times out on the client, which retries it', async () => {
    const hang = { route: 'asample', call: 1, action: { type: 'hang' as const } };
    const { double, client } = await setUp({ faults: [hang] }, { requestTimeoutMs: 200 });
    const sequences = await client.sample({
      promptTokens: prompt,
      numSamples: 2,
      maxTokens: 32,
      stopTokens: [EOS],
    });
    expect(sequences).toHaveLength(2);
    expect(double.stats().requests.asample).toBe(2);
  });

  it('rules set over the admin route transform sample results', async () => {
    const { double, client } = await setUp();
    const rules = [
      { route: 'asample', call: 1, action: { type: 'wrong-sample-count' } },
      { route: 'asample', call: 2, action: { type: 'logprobs-null' } },
    ];
    await getJson(double, '/double/v1/faults', { method: 'POST', body: JSON.stringify({ rules }) });
    const request = { promptTokens: prompt, numSamples: 3, maxTokens: 32, stopTokens: [EOS] };
    expect(await client.sample(request)).toHaveLength(2);
    expect((await client.sample(request)).map((s) => s.logprobs)).toEqual([[], [], []]);
    expect(await client.sample(request)).toHaveLength(3);
  });

  it('sample transforms: one sequence more than asked, and a first sequence without tokens', async () => {
    const rules = [
      { route: 'asample', call: 1, action: { type: 'extra-sample' as const } },
      { route: 'asample', call: 2, action: { type: 'empty-sample' as const } },
    ];
    const { client } = await setUp({ faults: rules });
    const request = { promptTokens: prompt, numSamples: 3, maxTokens: 32, stopTokens: [EOS] };
    expect(await client.sample(request)).toHaveLength(4);
    const [empty, ...rest] = await client.sample(request);
    expect(empty).toMatchObject({ tokens: [], logprobs: [] });
    expect(rest.map((s) => s.tokens.length > 0)).toEqual([true, true]);
  });

  it('with maxContextTokens, a request that does not fit fails as SkyRL with vLLM fails it; others are served', async () => {
    const { double, client } = await setUp({ maxContextTokens: prompt.length + 32 });
    const request = { promptTokens: prompt, numSamples: 1, stopTokens: [EOS] };
    expect(await client.sample({ ...request, maxTokens: 32 })).toHaveLength(1);
    await expect(client.sample({ ...request, maxTokens: 33 })).rejects.toMatchObject({
      status: 400,
      retryable: false,
      message: expect.stringMatching(/'max_tokens' or 'max_completion_tokens' is too large: 33\./),
    });
    const long = [...prompt, ...prompt];
    await expect(client.sample({ ...request, promptTokens: long, maxTokens: 1 })).rejects.toThrow(
      new RegExp(
        `maximum context length is ${prompt.length + 32} tokens. However, your request has ${long.length} input tokens`,
      ),
    );
    expect(double.stats().samples.samples).toBe(1);
  });

  it('a dropped optim_step response is never re-sent by the client: applied once, the outcome reported unknown', async () => {
    const drop = [{ route: 'optim_step', call: 1, action: { type: 'drop-response' as const } }];
    for (const seqIdMode of ['ignore', 'dedupe'] as const) {
      const { double, client } = await setUp({ faults: drop, seqIdMode });
      const modelId = await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 8 });
      await expect(client.optimStep({ modelId, adam, seqId: 1 })).rejects.toThrow(/outcome unknown/);
      expect(double.stats().requests.optim_step).toBe(1);
      expect((await steps(double)).models[modelId]!.optimizerSteps).toBe(1);
      await double.close();
    }
  });

  it('retrieve_future holds, then answers 408 and the client polls again; engine time is recorded', async () => {
    const { double, client } = await setUp(
      { retrieveHoldMs: 40, latency: { createMs: 150 } },
      { maxRetries: 0 },
    );
    await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 8 });
    const stats = double.stats();
    expect(stats.requests.retrieve_future).toBeGreaterThan(1);
    expect(stats.busyMs).toBeGreaterThanOrEqual(140);
  });
});

describe('engine double timeline', () => {
  const timeline = (d: EngineDouble, query = '') => getJson<TimelineReport>(d, `/double/v1/timeline${query}`);

  it('records each engine call (each sampled sequence) with its route, sequences and slots, over HTTP and in-process', async () => {
    const { double, client } = await setUp({ latency: { maxConcurrentSequences: 4, createMs: 20 } });
    const before = Date.now();
    const modelId = await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 8 });
    await trainOnce(client, modelId);
    const sampler = await client.saveWeightsForSampler({ modelId, name: 's1' });
    await sampleOnce(client, sampler);

    const report = await timeline(double, `?since=${before}`);
    expect(report.maxConcurrentSequences).toBe(4);
    expect(report.dropped).toBe(0);
    expect(report.intervals.map(({ route, sequences, slots }) => [route, sequences, slots])).toEqual([
      ['create_model', 0, 0],
      ['forward_backward', 0, 0],
      ['optim_step', 0, 0],
      ['save_weights_for_sampler', 0, 0],
      ['asample', 1, 1],
      ['asample', 1, 1],
    ]);
    const [created] = report.intervals;
    expect(created!.startMs).toBeGreaterThanOrEqual(before);
    expect(created!.endMs - created!.startMs).toBeGreaterThanOrEqual(19);
    expect(double.timeline(before).intervals).toEqual(report.intervals);
    expect(double.stats()).toMatchObject({
      maxConcurrentSequences: 4,
      timeline: { intervals: 6, dropped: 0 },
    });
  });

  it('filters by end time, clears on DELETE, and rejects a since that is not a number', async () => {
    const { double, client } = await setUp();
    await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 8 });
    expect((await timeline(double)).intervals).toHaveLength(1);
    expect((await timeline(double, `?since=${Date.now() + 60_000}`)).intervals).toEqual([]);
    const cleared = await getJson<TimelineReport>(double, '/double/v1/timeline', { method: 'DELETE' });
    expect(cleared.intervals).toEqual([]);
    expect((await timeline(double)).intervals).toEqual([]);
    const response = await fetch(`${double.url}/double/v1/timeline?since=yesterday`);
    expect(response.status).toBe(422);
  });
});
