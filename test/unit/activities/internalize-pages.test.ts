/**
 * internalize builds and writes a step's GRPO datums a few prompts at a time: every page is normalised by the whole
 * step (Eq. 10's B counts every usable rollout, the token mean every completion token), so the stored datums are
 * exactly those of the whole step built at once, and the step records how many it wrote. Built a prompt chunk at a
 * time instead, before the other chunks are verified, the datums times the factor the policy update derives from
 * the chunks' recorded statistics are again those of the whole step, for every aggregation and estimator (REINFORCE++
 * divides by a batch-wide standard deviation). MongoDB is replaced by the in-memory operations of in-memory-db.ts.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createInternalizeActivities } from '../../../activities/internalize.js';
import { GRPO_LOSS_AGGREGATIONS } from '../../../mel/config.js';
import {
  combineGrpoBatch,
  grpoBatchScale,
  rolloutDatums,
  sampleAdvantages,
  scaleAdvantages,
  type AdvantageConfig,
  type Datum,
  type RolloutSample,
} from '../../../mel/index.js';
import { parseRunConfig, type RunConfig } from '../../../mel/run-config.js';
import { datumOf } from '../../../store/datum-codec.js';
import type { DatumDoc, StepDoc } from '../../../store/documents.js';
import type { InternalizeSummary } from '../../../temporal/contracts/run.js';
import { COLLECTIONS } from '../../../store/mongo.js';
import { encodeLogprobs, encodeTokens } from '../../../store/token-codec.js';
import { inMemoryDb, type Doc } from './in-memory-db.js';

const runId = 'internalize-pages';
const PROMPTS = 11;
const promptId = (p: number) => `${runId}/step-0/p${p}`;
/**
 * Prompt 10's two rollouts are both correct: advantage 0, not sent, still counted. Prompt 9's second rollout was
 * excluded: a group of one, advantage 0. Others: one right, one wrong.
 */
const rewardOf = (p: number, s: number) => (p === 10 || s === 0 ? 1 : 0);
const EXCLUDED = { p: 9, s: 1 };
/** Completions of different lengths, so the normalisations differ. */
const completion = (p: number, s: number) => Array.from({ length: 2 + ((p + 3 * s) % 5) }, (_, t) => 100 + t);

type Aggregation = (typeof GRPO_LOSS_AGGREGATIONS)[number];

function runConfig(aggregation: Aggregation, estimator: AdvantageConfig['estimator'] = 'grpo') {
  return parseRunConfig({
    runId,
    steps: 1,
    batchSize: PROMPTS,
    groupSize: 2,
    mel: { loss: { grpoAggregation: aggregation }, advantage: { estimator } },
  });
}

function step(config: RunConfig): Record<string, Doc[]> {
  const samples = Array.from({ length: PROMPTS }, (_, p) => [0, 1].map((s) => ({ p, s })))
    .flat()
    .filter(({ p, s }) => p !== EXCLUDED.p || s !== EXCLUDED.s);
  const sampleDoc = ({ p, s }: { p: number; s: number }) => ({
    _id: `${promptId(p)}/s${s}`,
    runId,
    step: 0,
    promptId: promptId(p),
    sampleIndex: s,
  });
  return {
    [COLLECTIONS.runs]: [{ _id: runId, config, baseModel: 'base', createdAt: new Date(), workflowId: runId }],
    [COLLECTIONS.steps]: [{ _id: `${runId}/step-0`, runId, step: 0 }],
    [COLLECTIONS.prompts]: Array.from({ length: PROMPTS }, (_, p) => ({
      _id: promptId(p),
      runId,
      step: 0,
      promptIndex: p,
      promptTokens: encodeTokens([1, 2, 3]),
    })),
    [COLLECTIONS.rewards]: samples.map((sample) => ({
      ...sampleDoc(sample),
      reward: rewardOf(sample.p, sample.s),
    })),
    [COLLECTIONS.trajectories]: samples.map((sample) => ({
      ...sampleDoc(sample),
      tokens: encodeTokens(completion(sample.p, sample.s)),
      logprobs: encodeLogprobs(completion(sample.p, sample.s).map(() => -0.5)),
    })),
  };
}

/** The datums of the whole step built at once (Eq. 10 over every usable rollout), as the policy update sends them. */
function wholeStepDatums(contents: Record<string, Doc[]>, config: RunConfig) {
  const rewards = contents[COLLECTIONS.rewards]! as unknown as Parameters<typeof sampleAdvantages>[0];
  const trained = sampleAdvantages(rewards, config.mel.advantage).map(({ sample, advantage }) => {
    const { promptId: id, sampleIndex } = sample as unknown as { promptId: string; sampleIndex: number };
    const p = Number(id.slice(id.lastIndexOf('p') + 1));
    return { promptTokens: [1, 2, 3], completionTokens: completion(p, sampleIndex), advantage };
  });
  const sent: RolloutSample[] = trained
    .filter((t) => t.advantage !== 0)
    .map((t) => ({ ...t, completionLogprobs: t.completionTokens.map(() => -0.5) }));
  const batch = {
    rollouts: trained.length,
    completionTokens: trained.reduce((sum, t) => sum + t.completionTokens.length, 0),
  };
  return rolloutDatums(sent, config.mel.loss.grpoAggregation, batch);
}

const storedDatums = (contents: Record<string, Doc[]>) =>
  (contents[COLLECTIONS.datums]! as unknown as DatumDoc[]).sort((a, b) => a.index - b.index);

describe.each(GRPO_LOSS_AGGREGATIONS)('GRPO datums written a page at a time (%s)', (aggregation) => {
  it('are those of the whole step built at once, and the step records their count', async () => {
    const config = runConfig(aggregation);
    const contents = step(config);
    const { internalize } = createInternalizeActivities({ db: inMemoryDb(contents) } as never);
    const summary = await new MockActivityEnvironment().run(internalize, {
      runId,
      step: 0,
      datums: 'grpo' as const,
    });

    expect(summary).toEqual({ grpoDatums: 18, nllDatums: 0 });
    expect(storedDatums(contents).map(datumOf)).toEqual(wholeStepDatums(contents, config));
    expect((contents[COLLECTIONS.steps]![0] as unknown as StepDoc).datums).toEqual({ grpo: 18 });
  });
});

describe.each(
  GRPO_LOSS_AGGREGATIONS.flatMap((aggregation) =>
    (['grpo', 'rloo', 'reinforce_pp'] as const).map((estimator) => ({ aggregation, estimator })),
  ),
)('GRPO datums built a prompt chunk at a time ($aggregation, $estimator)', ({ aggregation, estimator }) => {
  it("times the step's factor are those of the whole step, whatever order the chunks come in", async () => {
    const config = runConfig(aggregation, estimator);
    const contents = step(config);
    const { internalize } = createInternalizeActivities({ db: inMemoryDb(contents) } as never);
    const chunks = [
      { start: 8, end: 11 },
      { start: 0, end: 4 },
      { start: 4, end: 8 },
    ];
    const summaries: InternalizeSummary[] = [];
    for (const items of [...chunks, chunks[0]!]) {
      summaries.push(
        await new MockActivityEnvironment().run(internalize, {
          runId,
          step: 0,
          datums: 'grpo' as const,
          items,
        }),
      );
    }
    expect(summaries.map((summary) => summary.grpoDatums)).toEqual([2, 8, 8, 2]);

    const { grpoBatch } = contents[COLLECTIONS.steps]![0] as unknown as StepDoc;
    const batch = combineGrpoBatch(grpoBatch!);
    expect(batch).toMatchObject({ datums: 18, rollouts: 21 });
    const scale = grpoBatchScale(batch, aggregation, config.mel.advantage);
    const scaled = storedDatums(contents).map((doc) => scaleAdvantages(datumOf(doc), scale));
    const expected = wholeStepDatums(contents, config);
    const withoutAdvantages = (datum: Datum) => ({
      ...datum,
      loss_fn_inputs: { ...datum.loss_fn_inputs, advantages: undefined },
    });
    expect(scaled.map(withoutAdvantages)).toEqual(expected.map(withoutAdvantages));
    scaled.forEach((datum, i) => {
      const want = expected[i]!.loss_fn_inputs.advantages!.data;
      datum.loss_fn_inputs.advantages!.data.forEach((a, t) => expect(a).toBeCloseTo(want[t]!, 12));
    });
  });
});

describe('combineGrpoBatch', () => {
  const part = { datums: 1, rollouts: 2, completionTokens: 3, centred: 2, centredSquares: 0.5 };

  it('sums chunks that tile the prompts from 0', () => {
    expect(combineGrpoBatch({ 'p4-6': part, 'p0-4': part })).toEqual({
      datums: 2,
      rollouts: 4,
      completionTokens: 6,
      centred: 4,
      centredSquares: 1,
    });
  });

  it('refuses statistics of another chunking of the step, which would count prompts twice', () => {
    expect(() => combineGrpoBatch({ 'p0-4': part, 'p0-2': part })).toThrow(/do not tile its prompts/);
    expect(() => combineGrpoBatch({ 'p2-4': part })).toThrow(
      /do not tile its prompts: p2-4 follows prompts up to 0/,
    );
    expect(() => combineGrpoBatch({ whole: part })).toThrow(/names no prompt range/);
  });
});
