/**
 * The step's objective on an engine, checked against the engine double under both loss reductions: after the
 * datums the project builds (mel/datums.ts) are sent the way the policy update sends them (step-objective.ts), the
 * coefficient of ∇log π of every token in the double's optimizer step equals the paper's Eq. 9, computed here from
 * its definition: Â_i·ratio/(|y_i|·B) on rollout i's completion tokens (B counts every usable rollout, also those
 * with zero advantage that are not sent), c/(|M_j|·N) on meta-experience j's tokens, and 0 elsewhere.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  accumulateGrpo,
  accumulateNllAfterGrpo,
  accumulateStepObjective,
  requestChunks,
} from '../../../activities/step-objective.js';
import type { EngineDouble } from '../../../engine-double/server.js';
import type { OptimStepRecord } from '../../../engine-double/models.js';
import type { TinkerClient } from '../../../engine/tinker.js';
import {
  nllDatums,
  rolloutDatums,
  singleCallNllExample,
  surrogateLoss,
  type Datum,
  type LossReduction,
  type RolloutSample,
} from '../../../mel/index.js';
import { BASE_MODEL, clientFor, getJson, startDouble } from '../engine-double/helpers.js';

const PPO = { lossFn: 'ppo' as const, clipLow: 0.8, clipHigh: 1.2 };

let double: EngineDouble | undefined;
afterEach(async () => {
  await double?.close();
  double = undefined;
});

interface Rollout {
  prompt: number[];
  completion: number[];
  advantage: number;
}

interface Batch {
  /** Every usable rollout of the step; those with advantage 0 are counted in B but not sent. */
  rollouts: Rollout[];
  metaExperiences: { context: number[]; tokens: number[] }[];
  nllCoefficient: number;
}

const tokens = (n: number, from: number) => Array.from({ length: n }, (_, i) => 100 + ((from + i * 7) % 400));
const rollout = (promptLength: number, length: number, advantage: number, from: number): Rollout => ({
  prompt: tokens(promptLength, from),
  completion: tokens(length, from + 1000),
  advantage,
});
const meta = (contextLength: number, length: number, from: number) => ({
  context: tokens(contextLength, from + 2000),
  tokens: tokens(length, from + 3000),
});

const BATCHES: Record<string, Batch> = {
  'n_g ≠ N, with zero-advantage rollouts': {
    rollouts: [
      rollout(5, 4, 1.5, 1),
      rollout(5, 9, -0.5, 2),
      rollout(5, 6, 0, 3),
      rollout(3, 2, -1, 4),
      rollout(3, 7, 0, 5),
    ],
    metaExperiences: [meta(6, 3, 1), meta(4, 8, 2)],
    nllCoefficient: 1,
  },
  'N > n_g, nllCoefficient 0.5': {
    rollouts: [rollout(4, 3, 0.7, 6), rollout(4, 5, 0, 7)],
    metaExperiences: [meta(5, 2, 3), meta(5, 6, 4), meta(3, 9, 5)],
    nllCoefficient: 0.5,
  },
  'N = 0': {
    rollouts: [rollout(4, 6, 1, 8), rollout(4, 2, -1, 9), rollout(4, 3, 0, 10)],
    metaExperiences: [],
    nllCoefficient: 1,
  },
  'n_g = 0 (every group uniform)': {
    rollouts: [rollout(4, 6, 0, 11), rollout(4, 2, 0, 12)],
    metaExperiences: [meta(4, 5, 6), meta(7, 2, 7)],
    nllCoefficient: 1,
  },
};

/** The paper's coefficient of ∇log π per target position of each datum sent, in the order they are sent. */
function paperCoefficients(batch: Batch, ratios: number[][]): number[][] {
  const B = batch.rollouts.length;
  const N = batch.metaExperiences.length;
  const sent = batch.rollouts.filter((r) => r.advantage !== 0);
  const grpo = sent.map((r, i) => [
    ...r.prompt.slice(1).map(() => 0),
    ...r.completion.map(
      (_, t) => (r.advantage * ratios[i]![r.prompt.length - 1 + t]!) / (r.completion.length * B),
    ),
  ]);
  const nll = batch.metaExperiences.map((m) => [
    ...m.context.slice(1).map(() => 0),
    ...m.tokens.map(() => batch.nllCoefficient / (m.tokens.length * N)),
  ]);
  return [...grpo, ...nll];
}

async function modelOn(reduction: LossReduction): Promise<{ client: TinkerClient; modelId: string }> {
  double = await startDouble({ reduction });
  const client = clientFor(double, {}, { MEL_ENGINE_LOSS_REDUCTION: reduction });
  return { client, modelId: await client.createTrainingModel({ baseModel: BASE_MODEL, rank: 4 }) };
}

/** The step's datums as internalize builds them, with sampler logprobs off the model's by `logRatio` per token. */
async function stepDatums(client: TinkerClient, modelId: string, batch: Batch, logRatio: number) {
  const sent = batch.rollouts.filter((r) => r.advantage !== 0);
  const samples = (logprobs: (r: Rollout, i: number) => number[]): RolloutSample[] =>
    sent.map((r, i) => ({
      promptTokens: r.prompt,
      completionTokens: r.completion,
      completionLogprobs: logprobs(r, i),
      advantage: r.advantage,
    }));
  const counted = {
    rollouts: batch.rollouts.length,
    completionTokens: batch.rollouts.reduce((n, r) => n + r.completion.length, 0),
  };
  let grpo: Datum[] = rolloutDatums(
    samples((r) => r.completion.map(() => 0)),
    'seq-mean-token-mean',
    counted,
  );
  if (grpo.length > 0) {
    const current = (await client.forward({ modelId, data: grpo })).perDatum.map((d) => d.logprobs);
    const sampler = (r: Rollout, i: number) =>
      current[i]!.slice(r.prompt.length - 1).map((logprob, t) => logprob - logRatio * ((t % 3) - 1));
    grpo = rolloutDatums(samples(sampler), 'seq-mean-token-mean', counted);
  }
  const examples = batch.metaExperiences.map((m) => singleCallNllExample(m.context, m.tokens));
  const nll = nllDatums(examples, 'eq7', batch.nllCoefficient);
  return { grpo, nll };
}

function ratiosOf(grpo: Datum[], current: number[][]): number[][] {
  return grpo.map((datum, i) =>
    current[i]!.map((logprob, t) => Math.exp(logprob - (datum.loss_fn_inputs.logprobs?.data[t] ?? 0))),
  );
}

function expectClose(actual: number[][], expected: number[][]) {
  expect(actual.map((row) => row.length)).toEqual(expected.map((row) => row.length));
  actual.forEach((row, d) =>
    row.forEach((value, t) => {
      const want = expected[d]![t]!;
      if (Math.abs(value - want) > 1e-9 * Math.max(1, Math.abs(want))) {
        throw new Error(`datum ${d}, token ${t}: ${value}, the paper's ${want}`);
      }
    }),
  );
}

describe.each(['skyrl', 'sum'] as const)('the objective under the %s reduction', (reduction) => {
  it.each(Object.keys(BATCHES))('follows Eq. 9 token by token: %s', async (name) => {
    const batch = BATCHES[name]!;
    const { client, modelId } = await modelOn(reduction);
    // Sampler logprobs within PPO's clip range of the model's, so every rollout token has a gradient.
    const { grpo, nll } = await stepDatums(client, modelId, batch, 0.05);
    const current = grpo.length
      ? (await client.forward({ modelId, data: grpo })).perDatum.map((d) => d.logprobs)
      : [];

    await accumulateStepObjective(
      client,
      modelId,
      { grpo, nll },
      { lossFn: 'ppo', clipLow: 0.8, clipHigh: 1.2 },
    );
    await client.optimStep({ modelId, adam: { learningRate: 1e-4 } });

    const step = await getJson<OptimStepRecord>(double!, `/double/v1/last-optim-step?model_id=${modelId}`);
    expect(step.reduction).toBe(reduction);
    expectClose(
      step.datums.map((d) => d.gradient),
      paperCoefficients(batch, ratiosOf(grpo, current)),
    );
  });
});

describe('a step split into several requests', () => {
  it.each(['skyrl', 'sum'] as const)('still follows Eq. 9 token by token (%s)', async (reduction) => {
    const batch = BATCHES['n_g ≠ N, with zero-advantage rollouts']!;
    const { client, modelId } = await modelOn(reduction);
    const { grpo, nll } = await stepDatums(client, modelId, batch, 0.05);
    const current = (await client.forward({ modelId, data: grpo })).perDatum.map((d) => d.logprobs);

    const limits = { maxDatums: 2, maxBytes: 1e9 };
    await accumulateStepObjective(client, modelId, { grpo, nll }, PPO, limits);
    await client.optimStep({ modelId, adam: { learningRate: 1e-4 } });

    const step = await getJson<OptimStepRecord>(double!, `/double/v1/last-optim-step?model_id=${modelId}`);
    const requests = new Set(step.datums.map((d) => d.call)).size;
    expect(requests).toBe(Math.ceil(grpo.length / 2) + Math.ceil(nll.length / 2));
    expectClose(
      step.datums.map((d) => d.gradient),
      paperCoefficients(batch, ratiosOf(grpo, current)),
    );
  });

  it.each(['skyrl', 'sum'] as const)(
    'GRPO datums read a page at a time, normalised by their count, still follow Eq. 9 (%s)',
    async (reduction) => {
      const batch = BATCHES['n_g ≠ N, with zero-advantage rollouts']!;
      const { client, modelId } = await modelOn(reduction);
      const { grpo, nll } = await stepDatums(client, modelId, batch, 0.05);
      const current = (await client.forward({ modelId, data: grpo })).perDatum.map((d) => d.logprobs);

      const paged = { count: grpo.length, pages: pagesOf([grpo.slice(0, 1), [], grpo.slice(1)]) };
      const losses = await accumulateStepObjective(client, modelId, { grpo: paged, nll }, PPO);
      await client.optimStep({ modelId, adam: { learningRate: 1e-4 } });

      const step = await getJson<OptimStepRecord>(double!, `/double/v1/last-optim-step?model_id=${modelId}`);
      expectClose(
        step.datums.map((d) => d.gradient),
        paperCoefficients(batch, ratiosOf(grpo, current)),
      );
      expect(losses.grpoLoss).toBeCloseTo(surrogateLoss(grpo, current, PPO), 12);
    },
  );

  it.each(['skyrl', 'sum'] as const)(
    'follows Eq. 9 when the GRPO half goes first, scaled for a bound on the NLL datums not yet counted (%s)',
    async (reduction) => {
      const batch = BATCHES['n_g ≠ N, with zero-advantage rollouts']!;
      const { client, modelId } = await modelOn(reduction);
      const { grpo, nll } = await stepDatums(client, modelId, batch, 0.05);
      const current = (await client.forward({ modelId, data: grpo })).perDatum.map((d) => d.logprobs);

      const bound = grpo.length + nll.length + 3;
      const paged = { count: grpo.length, pages: pagesOf([grpo]) };
      const grpoLoss = await accumulateGrpo(client, modelId, paged, bound, PPO);
      const sent = { grpoDatums: grpo.length, stepDatums: bound };
      const { countOnlyDatums } = await accumulateNllAfterGrpo(client, modelId, nll, sent);
      await client.optimStep({ modelId, adam: { learningRate: 1e-4 } });

      const step = await getJson<OptimStepRecord>(double!, `/double/v1/last-optim-step?model_id=${modelId}`);
      // SkyRL divides by the datums it was sent: three zero-weight ones make up the bound.
      expect(countOnlyDatums).toBe(reduction === 'skyrl' ? 3 : 0);
      const trained = grpo.length + nll.length;
      expect(step.datums).toHaveLength(trained + countOnlyDatums);
      expectClose(
        step.datums.slice(0, trained).map((d) => d.gradient),
        paperCoefficients(batch, ratiosOf(grpo, current)),
      );
      expect(step.datums.slice(trained).every((d) => d.gradient.every((g) => g === 0))).toBe(true);
      expect(grpoLoss).toBeCloseTo(surrogateLoss(grpo, current, PPO), 12);
    },
  );

  it('refuses more NLL datums than the GRPO half was scaled for, before sending any of them (skyrl)', async () => {
    const batch = BATCHES['n_g ≠ N, with zero-advantage rollouts']!;
    const { client, modelId } = await modelOn('skyrl');
    const { grpo, nll } = await stepDatums(client, modelId, batch, 0.05);
    const bound = grpo.length + nll.length - 1;
    await accumulateGrpo(client, modelId, { count: grpo.length, pages: pagesOf([grpo]) }, bound, PPO);
    const sent = { grpoDatums: grpo.length, stepDatums: bound };
    await expect(accumulateNllAfterGrpo(client, modelId, nll, sent)).rejects.toThrow(
      `the step has ${nll.length} NLL datums, more than the ${nll.length - 1} its GRPO datums were scaled for`,
    );
    await client.optimStep({ modelId, adam: { learningRate: 1e-4 } });
    const step = await getJson<OptimStepRecord>(double!, `/double/v1/last-optim-step?model_id=${modelId}`);
    expect(step.datums).toHaveLength(grpo.length);
  });

  it('refuses pages that do not hold the counted datums, before any optimizer step', async () => {
    const batch = BATCHES['n_g ≠ N, with zero-advantage rollouts']!;
    const { client, modelId } = await modelOn('skyrl');
    const { grpo, nll } = await stepDatums(client, modelId, batch, 0.05);
    const short = { count: grpo.length + 1, pages: pagesOf([grpo]) };
    await expect(accumulateStepObjective(client, modelId, { grpo: short, nll }, PPO)).rejects.toThrow(
      `the step counts ${grpo.length + 1} GRPO datums, but ${grpo.length} were read`,
    );
  });

  it('cuts at the datum count or the estimated size, whichever comes first, keeping the order', () => {
    const datum = (n: number): Datum => ({
      model_input: { chunks: [{ type: 'encoded_text', tokens: Array.from({ length: n }, () => 1) }] },
      loss_fn_inputs: { target_tokens: { data: Array.from({ length: n }, () => 1), dtype: 'int64' } },
    });
    const datums = [1, 2, 3, 4, 5].map(datum);
    expect(requestChunks(datums, { maxDatums: 2, maxBytes: 1e9 })).toEqual([
      [datums[0], datums[1]],
      [datums[2], datums[3]],
      [datums[4]],
    ]);
    const size = JSON.stringify(datums[4]).length;
    expect(requestChunks([datums[4]!, datums[4]!, datums[0]!], { maxDatums: 10, maxBytes: size })).toEqual([
      [datums[4]],
      [datums[4]],
      [datums[0]],
    ]);
  });
});

describe('the step losses it reports', () => {
  it('are the same on both reductions: −J_GRPO of the stored datums and each meta-experience token-mean NLL', async () => {
    const batch = BATCHES['n_g ≠ N, with zero-advantage rollouts']!;
    const reported = [];
    for (const reduction of ['skyrl', 'sum'] as const) {
      const { client, modelId } = await modelOn(reduction);
      const { grpo, nll } = await stepDatums(client, modelId, batch, 0.05);
      reported.push(
        await accumulateStepObjective(
          client,
          modelId,
          { grpo, nll },
          { lossFn: 'ppo', clipLow: 0.8, clipHigh: 1.2 },
        ),
      );
      await double!.close();
      double = undefined;
    }
    const [skyrl, sum] = reported;
    expect(skyrl!.grpoLoss).not.toBeNull();
    expect(skyrl!.grpoLoss).toBeCloseTo(sum!.grpoLoss!, 12);
    expect(skyrl!.nllPerDatum.map((d) => d.nll)).toEqual(sum!.nllPerDatum.map((d) => d.nll));
    expect(skyrl!.nllPerDatum.every((d) => d.nll > 0)).toBe(true);
  });
});

async function* pagesOf(pages: Datum[][]): AsyncIterable<Datum[]> {
  for (const page of pages) yield page;
}
