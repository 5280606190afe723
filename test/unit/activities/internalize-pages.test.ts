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
import { stepReads } from '../../../store/step-reads.js';
import { completion, grpoStepDocs } from './grpo-step-docs.js';
import { inMemoryDb, type Doc } from './in-memory-db.js';

const runId = 'internalize-pages';
/** Prompt 10's rollouts are both correct, prompt 9 lost one (grpo-step-docs.ts). */
const PROMPTS = 11;

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
    const contents = grpoStepDocs(config);
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
    const contents = grpoStepDocs(config);
    const db = inMemoryDb(contents);
    const { internalize } = createInternalizeActivities({ db } as never);
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

    // What the policy update reads: the datums a page at a time, and the statistics of the step's chunks.
    const { count, pages, batch } = await stepReads(db).grpoDatumPages(runId, 0);
    expect(count).toBe(18);
    expect(batch).toMatchObject({ datums: 18, rollouts: 21 });
    const scale = grpoBatchScale(batch!, aggregation, config.mel.advantage);
    const read: DatumDoc[] = [];
    for await (const page of pages) read.push(...page);
    const scaled = read.map((doc) => scaleAdvantages(datumOf(doc), scale));
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
  const part = (start: number, end: number) => ({
    items: { start, end },
    datums: 1,
    rollouts: 2,
    completionTokens: 3,
    centred: 2,
    centredSquares: 0.5,
  });

  it('sums chunks that tile the prompts from 0', () => {
    expect(combineGrpoBatch([part(4, 6), part(0, 4)])).toEqual({
      datums: 2,
      rollouts: 4,
      completionTokens: 6,
      centred: 4,
      centredSquares: 1,
    });
  });

  it('refuses statistics of another chunking of the step, which would count prompts twice', () => {
    expect(() => combineGrpoBatch([part(0, 4), part(0, 2)])).toThrow(/do not tile its prompts/);
    expect(() => combineGrpoBatch([part(2, 4)])).toThrow(
      /do not tile its prompts: prompts 2–4 follow prompts up to 0/,
    );
  });
});
