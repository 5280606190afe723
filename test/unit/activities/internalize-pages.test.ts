/**
 * internalize builds and writes a step's GRPO datums a few prompts at a time: every page is normalised by the whole
 * step (Eq. 10's B counts every usable rollout, the token mean every completion token), so the stored datums are
 * exactly those of the whole step built at once, and the step records how many it wrote. MongoDB is replaced by the
 * in-memory operations of in-memory-db.ts.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createInternalizeActivities } from '../../../activities/internalize.js';
import { GRPO_LOSS_AGGREGATIONS } from '../../../mel/config.js';
import { rolloutDatums, sampleAdvantages, type RolloutSample } from '../../../mel/index.js';
import { parseRunConfig } from '../../../mel/run-config.js';
import { datumOf } from '../../../store/datum-codec.js';
import type { DatumDoc, StepDoc } from '../../../store/documents.js';
import { COLLECTIONS } from '../../../store/mongo.js';
import { encodeLogprobs, encodeTokens } from '../../../store/token-codec.js';
import { inMemoryDb, type Doc } from './in-memory-db.js';

const runId = 'internalize-pages';
const PROMPTS = 11;
const promptId = (p: number) => `${runId}/step-0/p${p}`;
/** Prompt 10's two rollouts are both correct: advantage 0, not sent, still counted. Others: one right, one wrong. */
const rewardOf = (p: number, s: number) => (p === 10 || s === 0 ? 1 : 0);
/** Completions of different lengths, so the normalisations differ. */
const completion = (p: number, s: number) => Array.from({ length: 2 + ((p + 3 * s) % 5) }, (_, t) => 100 + t);

function step(aggregation: (typeof GRPO_LOSS_AGGREGATIONS)[number]): Record<string, Doc[]> {
  const config = parseRunConfig({
    runId,
    steps: 1,
    batchSize: PROMPTS,
    groupSize: 2,
    mel: { loss: { grpoAggregation: aggregation } },
  });
  const samples = Array.from({ length: PROMPTS }, (_, p) => [0, 1].map((s) => ({ p, s }))).flat();
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

describe.each(GRPO_LOSS_AGGREGATIONS)('GRPO datums written a page at a time (%s)', (aggregation) => {
  it('are those of the whole step built at once, and the step records their count', async () => {
    const contents = step(aggregation);
    const { internalize } = createInternalizeActivities({ db: inMemoryDb(contents) } as never);
    const summary = await new MockActivityEnvironment().run(internalize, {
      runId,
      step: 0,
      datums: 'grpo' as const,
    });

    const rewards = contents[COLLECTIONS.rewards]! as unknown as Parameters<typeof sampleAdvantages>[0];
    const trained = sampleAdvantages(rewards).map(({ sample, advantage }) => {
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
    const stored = (contents[COLLECTIONS.datums]! as unknown as DatumDoc[]).sort((a, b) => a.index - b.index);
    expect(summary).toEqual({ grpoDatums: 20, nllDatums: 0 });
    expect(stored.map(datumOf)).toEqual(rolloutDatums(sent, aggregation, batch));
    expect((contents[COLLECTIONS.steps]![0] as unknown as StepDoc).datums).toEqual({ grpo: 20 });
  });
});
