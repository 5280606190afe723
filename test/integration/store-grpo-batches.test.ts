/**
 * A step's prompt chunks build their GRPO datums at the same time, each on whichever CPU worker takes it, and each
 * records its batch statistics; on the stack's store (FerretDB v1 on PostgreSQL by default, which rewrites a whole
 * document on every update) none of them may be lost, or the policy update would scale the step by a wrong factor.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInternalizeActivities } from '../../activities/internalize.js';
import { itemChunks } from '../../mel/fan-out.js';
import { parseRunConfig } from '../../mel/run-config.js';
import type { DatumDoc } from '../../store/documents.js';
import { connectMongo, type MongoHandle } from '../../store/mongo.js';
import { stepReads } from '../../store/step-reads.js';
import type { InternalizeSummary } from '../../temporal/contracts/run.js';
import { grpoStepDocs } from '../unit/activities/grpo-step-docs.js';
import type { Doc } from '../unit/activities/in-memory-db.js';
import { endpoints, uniqueId } from './support.js';

const PROMPTS = 64;

describe('GRPO datums built by many prompt chunks at once', () => {
  let mongo: MongoHandle;
  const config = parseRunConfig({
    runId: uniqueId('grpo-batches'),
    steps: 1,
    batchSize: PROMPTS,
    groupSize: 2,
  });
  beforeAll(async () => {
    mongo = await connectMongo(endpoints);
    for (const [collection, docs] of Object.entries(grpoStepDocs(config))) {
      await mongo.db.collection<Doc>(collection).insertMany(docs);
    }
  });
  afterAll(async () => {
    await mongo?.close();
  });

  it("leave every chunk's statistics for the policy update, and as many datums as they count", async () => {
    const { internalize } = createInternalizeActivities({ db: mongo.db } as never);
    const chunks = itemChunks(PROMPTS, 2);
    const written = await Promise.all(
      chunks.map(
        (items) =>
          new MockActivityEnvironment().run(internalize, {
            runId: config.runId,
            step: 0,
            datums: 'grpo' as const,
            items,
          }) as Promise<InternalizeSummary>,
      ),
    );

    const { count, pages, batch } = await stepReads(mongo.db).grpoDatumPages(config.runId, 0);
    // Every prompt has 2 usable rollouts but one, which lost one; the last prompt's are both correct, not sent.
    expect(batch).toMatchObject({ rollouts: 2 * PROMPTS - 1, datums: 2 * (PROMPTS - 2) });
    expect(count).toBe(written.reduce((sum, summary) => sum + summary.grpoDatums, 0));
    const read: DatumDoc[] = [];
    for await (const page of pages) read.push(...page);
    expect(read).toHaveLength(count);
  });
});
